from apps.common.commands import ActorCommand
from apps.trading.services.operator import order_cancel


class Command(ActorCommand):
    help = "Cancel an order (by its id): withdrawn if not sent yet, else canceled on the exchange."
    default_reason = "canceled from the command line"

    def add_arguments(self, parser):
        parser.add_argument("order_id", type=int)
        super().add_arguments(parser)

    def act(self, *, actor, reason, order_id, **options) -> str:
        order = order_cancel(actor=actor, via=self.via, order_id=order_id, reason=reason)
        line = f"order #{order.pk} {order.client_order_id} ({order.side} {order.amount.normalize():f} {order.market.symbol}): "
        if order.status == "canceling":
            return line + f"cancel sent, not confirmed yet: {order.reason or 'reconciliation will settle it'}"
        return line + order.get_status_display().lower()

"""Log filters that keep third-party messages true for an operator."""

import logging

from celery.backends.asynchronous import E_RETRY_LIMIT_EXCEEDED

RESULT_STORE_RECONNECT_NOTICE = (
    "Redis (the Celery broker and result store) is unreachable and did not answer within the retries, "
    "so this task was not sent. No restart is needed: the next send reconnects by itself once Redis answers."
)


class ResultStoreReconnectNotice(logging.Filter):
    """Celery's Redis result consumer logs CRITICAL "The Celery application must be restarted"
    when it cannot resubscribe during a Redis outage (celery/backends/asynchronous.py), and beat
    repeats that text with a traceback in its "Message Error". It is not true for our processes:
    the consumer drops its pub/sub connection on the way out, so the next send (beat's next tick,
    the next .delay()) opens a new one and carries on once Redis is back
    (tests/common/test_beat_redis_outage.py). Those records become one-line WARNINGs saying so."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if E_RETRY_LIMIT_EXCEEDED not in message:
            return True
        context = message.split(E_RETRY_LIMIT_EXCEEDED)[0].rstrip()  # beat: "Message Error: Couldn't apply … tick:"
        record.msg, record.args = f"{context} {RESULT_STORE_RECONNECT_NOTICE}".lstrip(), ()
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True

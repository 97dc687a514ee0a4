from rest_framework.pagination import CursorPagination


class DeskCursorPagination(CursorPagination):
    """Stable pages over rows that keep arriving (orders, fills, candles): a cursor, not a page number."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "-id"


class CandlePagination(DeskCursorPagination):
    page_size = 1000
    max_page_size = 5000
    ordering = "open_time"

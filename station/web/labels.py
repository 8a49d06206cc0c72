"""The labels this station printed, drawn back as images: ``/api/v1/labels/<waybill>/preview.png``.

Invariant: a preview is drawn locally from the print job this station sent (never fetched upstream); a waybill this
station printed no label for, or a station without the label gate, is a 404 ``no_label``.
"""
from __future__ import annotations

from flask import Blueprint, Response

from packgate.station.web.shared import error, station

bp = Blueprint("labels", __name__)


@bp.get("/api/v1/labels/<waybill>/preview.png")
def label_preview(waybill: str) -> Response:
    labels = station().labels
    png = labels.preview(waybill) if labels is not None else None
    if png is None:
        return error(404, "no_label", waybill=waybill)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=3600"})

"""Opens smartgap's outputs the way a planner's QGIS does (issue #14, item 6).

Usage: QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_styles.py GPKG QGS PNG

- every style in the GeoPackage's `layer_styles` loads on its layer with a graduated or
  categorised renderer (never a single symbol), and each region layer opens with its default;
- the national 시군구 layer, rendered with its default style, gives a PNG with several colours;
- the project file reads, in EPSG:5179, with every layer valid and styled.

Prints one JSON line with what it saw; exits 1 with the reasons on any failure.
Run by tests/it/qgis_styles.rs (python3-qgis is installed by scripts/setup.sh).
"""

import json
import sqlite3
import sys

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsExpressionContextUtils,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRenderContext,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtXml import QDomDocument

STYLED = ("graduatedSymbol", "categorizedSymbol")


def features_without_symbol(layer):
    """Features the layer's renderer draws with no symbol (in none of its classes)."""
    ctx = QgsRenderContext()
    ctx.expressionContext().appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
    renderer = layer.renderer().clone()
    renderer.startRender(ctx, layer.fields())
    missing = 0
    for f in layer.getFeatures():
        ctx.expressionContext().setFeature(f)
        if renderer.symbolForFeature(f, ctx) is None:
            missing += 1
    renderer.stopRender(ctx)
    return missing


def check_styles(gpkg, problems):
    """Loads each stored style on its layer; returns {layer: [renderer types]}."""
    con = sqlite3.connect(gpkg)
    rows = con.execute(
        "SELECT f_table_name, styleName, styleQML, useAsDefault FROM layer_styles ORDER BY id"
    ).fetchall()
    con.close()
    seen = {}
    defaults = {}
    for table, name, qml, default in rows:
        layer = QgsVectorLayer(f"{gpkg}|layername={table}", table, "ogr")
        if not layer.isValid():
            problems.append(f"{table}: layer not valid")
            continue
        doc = QDomDocument()
        ok, err, line, col = doc.setContent(qml)
        if not ok:
            problems.append(f"{table}/{name}: QML not XML: {err} at {line}:{col}")
            continue
        ok, err = layer.importNamedStyle(doc)
        kind = layer.renderer().type() if layer.renderer() else None
        if not ok or kind not in STYLED:
            problems.append(f"{table}/{name}: loaded {ok} {err!r}, renderer {kind}")
        unclassed = features_without_symbol(layer)
        if unclassed:
            problems.append(f"{table}/{name}: {unclassed} features in no class")
        seen.setdefault(table, []).append(kind)
        defaults[table] = defaults.get(table, 0) + int(default)
    for table, n in defaults.items():
        if n != 1:
            problems.append(f"{table}: {n} default styles")
        # Opened as a user opens it, the layer takes its default style from the GeoPackage.
        layer = QgsVectorLayer(f"{gpkg}|layername={table}", table, "ogr")
        kind = layer.renderer().type() if layer.renderer() else None
        if kind not in STYLED:
            problems.append(f"{table}: opens with renderer {kind}, not its default style")
    if not seen:
        problems.append("no layer_styles rows")
    return seen


def render(gpkg, png, problems):
    """Renders the 시군구 layer with its default style; returns the number of distinct colours."""
    layer = QgsVectorLayer(f"{gpkg}|layername=sigungu", "sigungu", "ogr")
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:5179"))
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(600, 800))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    if not image.save(png, "PNG"):
        problems.append(f"cannot save {png}")
    # Fills, not just anti-aliased outlines: count colours covering at least 0.1 % of the samples.
    counts = {}
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            c = image.pixel(x, y)
            counts[c] = counts.get(c, 0) + 1
    samples = sum(counts.values())
    big = [c for c, n in counts.items() if n >= samples / 1000]
    if len(big) < 5:
        problems.append(f"render of sigungu has {len(big)} colours covering 0.1 %: blank or unstyled")
    return len(big), len(counts)


def check_project(qgs, problems):
    """Reads the project; returns {layer name: renderer type}."""
    project = QgsProject.instance()
    if not project.read(qgs):
        problems.append(f"project does not read: {project.error()}")
        return {}
    if project.crs().authid() != "EPSG:5179":
        problems.append(f"project CRS {project.crs().authid()}")
    out = {}
    for layer in project.mapLayers().values():
        kind = layer.renderer().type() if layer.renderer() else None
        out[layer.name()] = kind
        if not layer.isValid():
            problems.append(f"project layer {layer.name()} not valid: {layer.source()}")
        if kind not in STYLED:
            problems.append(f"project layer {layer.name()}: renderer {kind}")
        if layer.crs().authid() != "EPSG:5179":
            problems.append(f"project layer {layer.name()}: CRS {layer.crs().authid()}")
        # Every named style of the layer's style list applies a styled renderer.
        manager = layer.styleManager()
        default = manager.currentStyle()
        for name in manager.styles():
            manager.setCurrentStyle(name)
            other = layer.renderer().type() if layer.renderer() else None
            labels = [i.label() for i in layer.renderer().legendSymbolItems()]
            if other not in STYLED:
                problems.append(f"project layer {layer.name()} style {name}: renderer {other}")
            # Switching really applies the style (a broken one would leave the last renderer).
            if name.startswith("LISA") and "이웃 없음 / no neighbours" not in labels:
                problems.append(f"project layer {layer.name()} style {name}: legend {labels}")
        manager.setCurrentStyle(default)
        out[layer.name()] = [kind, len(manager.styles())]
    if not out:
        problems.append("project has no layers")
    return out


def main():
    gpkg, qgs, png = sys.argv[1:4]
    app = QgsApplication([], False)
    app.initQgis()
    problems = []
    styles = check_styles(gpkg, problems)
    fills, colours = render(gpkg, png, problems)
    project = check_project(qgs, problems)
    print(json.dumps({
        "styles": styles,
        "render_fill_colours": fills,
        "render_colours": colours,
        "project_layers": project,
        "problems": problems,
    }, ensure_ascii=False))
    QgsProject.instance().clear()
    app.exitQgis()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

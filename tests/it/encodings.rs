//! Korean text in the encodings people really send: a CP949 CSV, and a CP949 Shapefile whose
//! `.cpg` says UTF-8. Both resolve exactly like their UTF-8 originals; the lie is reported.

use std::path::Path;

use gdal::DriverManager;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};

use crate::fixtures::grid_dir;

const NAME: &str = "encodings";
const MAX_REJECT_SHARE: f64 = 0.0;
const INPUTS: &str = r#"
[[inputs]]
name = "cp949_csv"
path = "names_cp949.csv"
id = "id"
amount = { field = "amount_krw" }
locate = { by = "name", sido = "sido", sigungu = "sigungu" }

[[inputs]]
name = "lying_shp"
path = "lying.shp"
id = "id"
amount = { field = "amount" }
locate = { by = "name", sido = "sido", sigungu = "sigungu" }
"#;

/// A point Shapefile written in CP949 by GDAL, whose `.cpg` is then replaced by a lie.
fn lying_shapefile(dir: &Path) {
    let driver = DriverManager::get_driver_by_name("ESRI Shapefile").unwrap();
    let mut ds = driver.create_vector_only(dir.join("lying.shp")).unwrap();
    let srs = SpatialRef::from_epsg(5179).unwrap();
    let layer = ds
        .create_layer(LayerOptions {
            name: "lying",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbPoint,
            options: Some(&["ENCODING=CP949"]),
        })
        .unwrap();
    layer
        .create_defn_fields(&[
            ("id", OGRFieldType::OFTString),
            ("sido", OGRFieldType::OFTString),
            ("sigungu", OGRFieldType::OFTString),
            ("amount", OGRFieldType::OFTInteger64),
        ])
        .unwrap();
    for (id, sido, sigungu, amount) in [
        ("s1", "부산광역시", "중구", 70i64),
        ("s2", "서울특별시", "종로구", 80),
    ] {
        let mut f = Feature::new(layer.defn()).unwrap();
        f.set_field(0, &FieldValue::StringValue(id.into())).unwrap();
        f.set_field(1, &FieldValue::StringValue(sido.into()))
            .unwrap();
        f.set_field(2, &FieldValue::StringValue(sigungu.into()))
            .unwrap();
        f.set_field_integer64(3, amount).unwrap();
        f.set_geometry(Geometry::from_wkt("POINT (1000500 2000500)").unwrap())
            .unwrap();
        f.create(&layer).unwrap();
    }
    ds.close().unwrap();
    std::fs::write(dir.join("lying.cpg"), "UTF-8").unwrap();
}

#[test]
fn cp949_csv_and_a_shapefile_with_a_lying_cpg_resolve_and_the_lie_is_reported() {
    let dir = grid_dir();
    let (csv, _, _) = encoding_rs::EUC_KR
        .encode("id,sido,sigungu,amount_krw\nk1,서울특별시,중구,10\nk2,부산광역시,중구,20\n");
    assert!(
        std::str::from_utf8(&csv).is_err(),
        "the fixture must really be CP949"
    );
    std::fs::write(dir.path().join("names_cp949.csv"), &csv).unwrap();
    lying_shapefile(dir.path());
    // The .dbf really holds CP949 bytes.
    let dbf = std::fs::read(dir.path().join("lying.dbf")).unwrap();
    let (busan, _, _) = encoding_rs::EUC_KR.encode("부산광역시");
    assert!(dbf.windows(busan.len()).any(|w| w == &busan[..]));
    let o = crate::fixtures::run_on_grid(dir.path(), NAME, MAX_REJECT_SHARE, INPUTS);
    assert_eq!(
        o.report.totals.rejected_records, 0,
        "{:?}",
        o.report.rejects_by_reason
    );
    assert_eq!(o.report.totals.assigned_krw, 180);
    let csv_in = &o.report.inputs[0].file;
    assert_eq!(
        csv_in.encoding,
        Some(smartgap::read::encoding::Encoding::Cp949)
    );
    let shp = &o.report.inputs[1].file;
    assert_eq!(
        shp.encoding,
        Some(smartgap::read::encoding::Encoding::Cp949)
    );
    assert!(
        shp.warnings
            .iter()
            .any(|w| w.contains("lying.dbf") && w.contains("says UTF-8") && w.contains("CP949")),
        "{:?}",
        shp.warnings
    );
    let sigungu = crate::fixtures::geojson(&dir.path().join("out"), "sigungu");
    // 중구 (서울) 10; 중구 (부산) 20 + 70; 종로구 80.
    assert_eq!(crate::fixtures::props(&sigungu, "11010")["amount_krw"], 10);
    assert_eq!(crate::fixtures::props(&sigungu, "26010")["amount_krw"], 90);
    assert_eq!(crate::fixtures::props(&sigungu, "11020")["amount_krw"], 80);
}

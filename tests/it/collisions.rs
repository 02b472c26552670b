//! Output column collisions (issue #15, class 10). An attribute column that takes a region
//! layer's own name in any case (`NAME`, `fid`, `geom`), or two attribute columns differing
//! only in case, are config errors at `check`; programme ids that reduce to one column
//! (`Smart City` / `smart_city`, Korean ids of one length) are renamed by their own digest with
//! a warning; and a run that fails after staging leaves no `runs/.staging-*` behind.

use std::path::Path;

use gdal::vector::LayerAccess;

use crate::fixtures::{geojson, grid_dir, props, run_on_grid};

fn load_err(dir: &Path, inputs: &str) -> String {
    let path = dir.join("c.toml");
    std::fs::write(&path, crate::fixtures::grid_pipeline("c", 0.0, inputs)).unwrap();
    format!("{:?}", smartgap::pipeline::load(&path).unwrap_err())
}

#[test]
fn attribute_columns_that_collide_are_refused_at_check() {
    let dir = grid_dir();
    std::fs::write(
        dir.path().join("tiers.csv"),
        "code,tier,label\n11010,1,가\n",
    )
    .unwrap();
    let attrs = |name: &str, map: &str| {
        format!(
            "[[inputs]]\nname = \"{name}\"\npath = \"tiers.csv\"\nkind = \"attributes\"\nattributes = {{ {map} }}\nlocate = {{ by = \"code\", field = \"code\" }}\n"
        )
    };
    let e = load_err(
        dir.path(),
        &format!(
            "{}{}{}",
            attrs(
                "a",
                "NAME = \"label\", fid = \"tier\", Geom = \"tier\", amount_x_krw = \"tier\""
            ),
            attrs("b", "Tier_Label2 = \"tier\""),
            attrs("c", "tier_label2 = \"label\"")
        ),
    );
    for m in [
        "attribute column `NAME` collides with the region layers' own column `name`",
        "attribute column `fid` collides with the region layers' own column `fid`",
        "attribute column `Geom` collides with the region layers' own column `geom`",
        "attribute column `amount_x_krw` collides with the region layers' own column `amount_…",
        "attribute columns `tier_label2` and `Tier_Label2` differ only in case",
    ] {
        assert!(e.contains(m), "{m}\n{e}");
    }
}

/// By hand: four rows in 종로구 (11020), one per programme id; `smart_city` is already a
/// reduced id and keeps its column, the others of its group and the two five-syllable Korean ids
/// get sha256(id)[..8] (Python's hashlib: Smart City 0f1b7ba5, 스마트도시 bdcf8fbc, 도시재생사
/// a9996e57).
#[test]
fn programme_ids_reducing_to_one_column_are_renamed_and_the_run_succeeds() {
    let dir = grid_dir();
    std::fs::write(
        dir.path().join("p.csv"),
        "code,program,amount\n11020,Smart City,1\n11020,smart_city,2\n11020,스마트도시,4\n11020,도시재생사,8\n",
    )
    .unwrap();
    let o = run_on_grid(
        dir.path(),
        "programs",
        0.0,
        "[[inputs]]\nname = \"p\"\npath = \"p.csv\"\namount = { field = \"amount\" }\nprogram = { field = \"program\" }\nlocate = { by = \"code\", field = \"code\" }\n",
    );
    let sigungu = geojson(&dir.path().join("out"), "sigungu");
    let p = props(&sigungu, "11020");
    let u5 = "_".repeat(5);
    assert_eq!(p["amount_program_smart_city_krw"], 2);
    assert_eq!(p["amount_program_smart_city_0f1b7ba5_krw"], 1);
    assert_eq!(p[format!("amount_program_{u5}_bdcf8fbc_krw").as_str()], 4);
    assert_eq!(p[format!("amount_program_{u5}_a9996e57_krw").as_str()], 8);
    let w = &o.report.warnings;
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w[0].contains("\"Smart City\"") && w[0].contains("amount_program_smart_city_0f1b7ba5_krw"),
        "{w:?}"
    );
    let gpkg = gdal::Dataset::open(dir.path().join("out/smartgap.gpkg")).unwrap();
    assert_eq!(gpkg.layer_by_name("sigungu").unwrap().feature_count(), 3);
}

/// A regular file where the published link `smartgap.gpkg` belongs stops the run at publish,
/// after everything was staged: the run fails and leaves no staging folder.
#[test]
fn a_run_failing_after_staging_leaves_no_staging_folder() {
    let dir = grid_dir();
    std::fs::write(dir.path().join("p.csv"), "code,amount\n11020,1\n").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("smartgap.gpkg"), b"not ours").unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        crate::fixtures::grid_pipeline(
            "s",
            0.0,
            "[[inputs]]\nname = \"p\"\npath = \"p.csv\"\namount = { field = \"amount\" }\nlocate = { by = \"code\", field = \"code\" }\n",
        ),
    )
    .unwrap();
    let p = smartgap::pipeline::load(&path).unwrap();
    let e = smartgap::pipeline::run(&p).unwrap_err().to_string();
    assert!(e.contains("is not smartgap's link"), "{e}");
    let left: Vec<String> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

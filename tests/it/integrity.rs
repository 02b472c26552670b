//! Inputs that cannot be trusted as read (issue #16): a row cut short, GDAL stopping early, a
//! file changed while it is read, and values that would make the outputs or messages grow
//! without bound.

use crate::fixtures::{geojson, grid_dir, run_plain_and_streamed};

/// Points in three 읍면동 of the grid (EPSG:5179).
const POINTS: &str = "id,x,y,amount_krw,program\n\
                      1,1000500,2000500,1000,a\n\
                      2,1001500,2000500,2000,b\n";

const POINTS_INPUT: &str = r#"[[inputs]]
name = "points"
path = "points.csv"
id = "id"
amount = { field = "amount_krw" }
program = { field = "program" }
locate = { by = "point", x = "x", y = "y", crs = "EPSG:5179" }
"#;

#[test]
fn a_row_cut_short_is_a_row_malformed_reject_materialised_and_streamed() {
    let dir = grid_dir();
    // The writer died in row 3's amount (`1234` cut to `12`), before its programme.
    std::fs::write(
        dir.path().join("points.csv"),
        format!("{POINTS}3,1002500,2000500,12"),
    )
    .unwrap();
    let (plain, streamed, plain_out) = run_plain_and_streamed(dir.path(), POINTS_INPUT, "");
    for (run, out) in [(&plain, plain_out), (&streamed, dir.path().join("out"))] {
        let t = &run.report.totals;
        assert_eq!(
            (t.input_records, t.assigned_records, t.rejected_records),
            (3, 2, 1)
        );
        // The cut amount is not booked, as assigned or as rejected money.
        assert_eq!(
            (t.input_krw, t.assigned_krw, t.rejected_krw),
            (3000, 3000, 0)
        );
        let r = &run.report.rejects_by_reason["row_malformed"];
        assert_eq!((r.count, r.amount_krw), (1, 0));
        let rejects = geojson(&out, "rejects");
        let p = &rejects["features"][0]["properties"];
        assert_eq!(p["reason"], "row_malformed");
        assert_eq!(p["row"], 3);
        assert_eq!(p["record_id"], "3");
        assert_eq!(
            p["detail"],
            "the row has 4 of the header's 5 fields (a file cut short?); its amount is not booked"
        );
    }
}

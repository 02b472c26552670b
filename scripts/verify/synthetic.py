#!/usr/bin/env python3
"""Writes a dense synthetic input for `make verify`: one record per 읍면동 code of the bundled
boundaries with a seeded log-normal amount (every region positive, so every PySAL index is
defined), and a pipeline file that runs it. Usage: synthetic.py BOUNDARY_CODES_TXT WORK_DIR ROOT"""
import sys
from pathlib import Path

import numpy as np

codes = [c.strip() for c in Path(sys.argv[1]).read_text().split() if c.strip()]
work = Path(sys.argv[2])
root = Path(sys.argv[3]).resolve()
work.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(20261125)
amounts = np.round(rng.lognormal(mean=20.0, sigma=1.5, size=len(codes))).astype(np.int64)
funding = np.where(rng.random(len(codes)) < 0.3, "development_fee", "national_program")
with (work / "records.csv").open("w", encoding="utf-8") as f:
    f.write("id,code,amount_krw,funding\n")
    for i, (c, a, fs) in enumerate(zip(codes, amounts, funding)):
        f.write(f"r{i},{c},{a},{fs}\n")
(work / "synthetic.toml").write_text(f"""
[pipeline]
name = "verify-synthetic"
output_dir = "out"
# The work folder, and the repository whose data/ it reads.
roots = [".", "{root}"]

[boundaries]
path = "{root}/data/boundaries.gpkg"
levels = ["sido", "sigungu", "emd"]
full_name_field = "full_name"

[region_groups]
path = "{root}/data/region_groups.csv"
group_field = "region_group_id"
name_field = "region_group_name_ko"
sido_code_field = "sido_code"

[[inputs]]
name = "synthetic"
path = "records.csv"
id = "id"
amount = {{ field = "amount_krw" }}
funding = {{ field = "funding" }}
locate = {{ by = "code", field = "code" }}
""", encoding="utf-8")
print(f"synthetic: {len(codes)} records")

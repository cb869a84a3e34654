//! Writes the sample documents into a folder, for scripts/export-test.sh to read back with
//! other software: `cargo run -p giaoban-export --example samples -- OUTDIR`.
//!
//! Files: dispatch-305.docx, consolidated-report.docx, consolidated-report-table.xlsx
//! (its own name: LibreOffice names each PDF after its source), and
//! units.tsv (unit, models, funds per line, then the totals line) for the checker to compare
//! against.

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: samples OUTDIR")?);
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("dispatch-305.docx"), giaoban_export::docx(&fixtures::dispatch_305())?)?;
    std::fs::write(
        out.join("consolidated-report.docx"),
        giaoban_export::docx(&fixtures::consolidated_report())?,
    )?;
    std::fs::write(
        out.join("consolidated-report-table.xlsx"),
        giaoban_export::xlsx("Tổng hợp 305/MTTQ-BTT", &fixtures::units_table())?,
    )?;
    let mut tsv = String::new();
    for (unit, models, funds) in fixtures::UNITS {
        tsv.push_str(&format!("{unit}\t{models}\t{funds}\n"));
    }
    tsv.push_str(&format!("Tổng cộng\t{}\t{}\n", fixtures::total_models(), fixtures::total_funds()));
    std::fs::write(out.join("units.tsv"), tsv)?;
    println!("{}", out.display());
    Ok(())
}

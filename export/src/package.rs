//! docx-rs writes every part of the package uncompressed ("Stored"): a two-page dispatch is
//! 40 KB, a report with a table 80 KB. Downloads reach communes over slow mobile links, so the
//! package is written again with every part deflated (a fifth of the size), in the same order,
//! with the same fixed timestamp.

use std::io::{Cursor, Read, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::ExportError;

pub(crate) fn deflated(stored: Vec<u8>) -> Result<Vec<u8>, ExportError> {
    let zip_error = |e: zip::result::ZipError| ExportError::Docx(e.to_string());
    let mut archive = ZipArchive::new(Cursor::new(stored)).map_err(zip_error)?;
    let mut out = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::DEFAULT);
    let mut buf = Vec::new();
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).map_err(zip_error)?;
        let name = part.name().map_err(zip_error)?.to_string();
        if part.is_dir() {
            out.add_directory(name, options).map_err(zip_error)?;
            continue;
        }
        buf.clear();
        part.read_to_end(&mut buf).map_err(|e| ExportError::Docx(e.to_string()))?;
        out.start_file(name, options).map_err(zip_error)?;
        out.write_all(&buf).map_err(|e| ExportError::Docx(e.to_string()))?;
    }
    Ok(out.finish().map_err(zip_error)?.into_inner())
}

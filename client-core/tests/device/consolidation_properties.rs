//! Consolidation, for any set of reports: totals are the sums over the units counted, returned
//! reports drop out, qualifiers and scopes never mix, and a sum past i64 is refused.

use giaoban_client_core::protocol::UnitId;
use giaoban_client_core::protocol::schema::{Figure, FigureScope, MeasureUnit, Qualifier};
use giaoban_client_core::{
    ColumnKey, Counting, ReportStanding, Sum, UnitReport, consolidate, total_qualifier,
};
use proptest::prelude::*;

fn standing() -> impl Strategy<Value = ReportStanding> {
    prop_oneof![
        Just(ReportStanding::Accepted),
        Just(ReportStanding::AwaitingReview),
        Just(ReportStanding::Returned),
        Just(ReportStanding::NotApplicable),
        Just(ReportStanding::NotReported),
        Just(ReportStanding::ReportNotHere),
    ]
}

fn figure() -> impl Strategy<Value = Figure> {
    (
        prop::sample::select(vec!["quy_vnn_vnd", "nha_dai_doan_ket", "ho_ngheo_duoc_ho_tro"]),
        prop_oneof![0i64..2_000_000_000, (i64::MAX / 3)..i64::MAX, -1_000i64..0],
        prop::sample::select(vec![MeasureUnit::Vnd, MeasureUnit::Houses, MeasureUnit::Items]),
        prop::sample::select(vec![Qualifier::Exact, Qualifier::Under, Qualifier::Over, Qualifier::About]),
        prop::sample::select(vec![FigureScope::Period, FigureScope::Cumulative]),
    )
        .prop_map(|(indicator, value, unit, qualifier, scope)| Figure {
            indicator: indicator.into(),
            value,
            unit,
            qualifier,
            scope,
            note: String::new(),
            written: String::new(),
            since: None,
        })
}

fn units() -> impl Strategy<Value = Vec<UnitReport>> {
    prop::collection::vec((standing(), prop::collection::vec(figure(), 0..5)), 0..14).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (standing, figures))| UnitReport {
                unit: UnitId::from_bytes([i as u8 + 1; 16]),
                standing,
                report: None,
                figures,
            })
            .collect()
    })
}

/// The figure a unit gives for a column, read the way a report is read: the first of its
/// indicator, and only if that one is of the column's measure and scope.
fn given<'a>(u: &'a UnitReport, key: &ColumnKey) -> Option<&'a Figure> {
    u.figures
        .iter()
        .find(|f| f.indicator == key.indicator)
        .filter(|f| f.unit == key.unit && f.scope == key.scope)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn totals_are_the_sums_over_the_units_counted(units in units(), all in any::<bool>()) {
        let counting = if all { Counting::AllSubmitted } else { Counting::AcceptedOnly };
        let c = consolidate(&units, counting, &["nha_dai_doan_ket".to_string()]);
        let counted: Vec<&UnitReport> = units.iter().filter(|u| u.standing.counted(counting)).collect();

        // Every unit once: counted, or named with its reason.
        prop_assert_eq!(c.rows.len() + c.not_counted.len(), units.len());
        for r in &c.rows {
            prop_assert!(matches!(r.standing, ReportStanding::Accepted | ReportStanding::AwaitingReview));
            if !all {
                prop_assert_eq!(r.standing, ReportStanding::Accepted, "accepted only");
            }
        }
        for (_, s) in &c.not_counted {
            prop_assert!(!s.counted(counting));
        }

        // Columns are distinct (indicator, measure, scope); each cell is of its column's.
        for (i, col) in c.columns.iter().enumerate() {
            prop_assert!(c.columns[..i].iter().all(|o| o.key != col.key));
            for r in &c.rows {
                if let Some(f) = &r.cells[i] {
                    prop_assert_eq!((&f.indicator, f.unit, f.scope), (&col.key.indicator, col.key.unit, col.key.scope));
                }
            }
            let figures: Vec<&Figure> = counted.iter().filter_map(|u| given(u, &col.key)).collect();
            prop_assert_eq!(col.units, figures.len());
            let exact: i128 = figures.iter().map(|f| f.value as i128).sum();
            match col.sum {
                Sum::Value { value, qualifier } => {
                    prop_assert_eq!(value as i128, exact);
                    prop_assert_eq!(qualifier, total_qualifier(figures.iter().map(|f| f.qualifier)));
                    // Exact only when every figure added is.
                    prop_assert_eq!(qualifier == Qualifier::Exact, figures.iter().all(|f| f.qualifier == Qualifier::Exact));
                }
                // Refused exactly when the total does not fit.
                Sum::TooLarge => prop_assert!(exact > i64::MAX as i128 || exact < i64::MIN as i128),
            }
        }
        // Every figure of a counted unit is in some column.
        for u in &counted {
            for f in &u.figures {
                prop_assert!(c.columns.iter().any(|col| col.key.indicator == f.indicator));
            }
        }
    }

    #[test]
    fn a_returned_report_drops_out_of_accepted_only(units in units(), pick in any::<prop::sample::Index>()) {
        prop_assume!(!units.is_empty());
        let mut units = units;
        let i = pick.index(units.len());
        units[i].standing = ReportStanding::Accepted;
        let before = consolidate(&units, Counting::AcceptedOnly, &[]);
        prop_assert!(before.rows.iter().any(|r| r.unit == units[i].unit));
        units[i].standing = ReportStanding::Returned;
        for counting in [Counting::AcceptedOnly, Counting::AllSubmitted] {
            let after = consolidate(&units, counting, &[]);
            prop_assert!(after.rows.iter().all(|r| r.unit != units[i].unit));
            prop_assert!(after.not_counted.contains(&(units[i].unit, ReportStanding::Returned)));
        }
    }
}

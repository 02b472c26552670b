//! Exact parsing of money amounts written in a unit (원, 천원, 백만원, 억원, 조원).

use crate::config::AmountUnit;
use crate::model::RejectReason;

/// Parses `text` written in `unit` into whole KRW, exactly (decimal arithmetic, no floats).
///
/// Accepts ASCII or full-width digits, `,` thousands separators, surrounding spaces and one
/// decimal point. `22.6` in 억원 is 2,260,000,000 KRW.
///
/// # Errors
/// The reject reason and a detail naming the offending text: empty, not a number, negative,
/// a fraction of one KRW, or beyond ±9.2 × 10¹⁸.
pub fn parse_amount(text: &str, unit: AmountUnit) -> Result<i64, (RejectReason, String)> {
    let normalised: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '，' => ',',
            '．' => '.',
            '－' => '-',
            c => c,
        })
        .filter(|c| *c != ',')
        .collect();
    if normalised.is_empty() {
        return Err((RejectReason::AmountMissing, "amount is empty".into()));
    }
    let invalid = || {
        (
            RejectReason::AmountInvalid,
            format!("`{}` is not a number of {}", quoted(text), unit_name(unit)),
        )
    };
    let (negative, digits) = match normalised.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, normalised.strip_prefix('+').unwrap_or(&normalised)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let exp = unit.exponent() as usize;
    let frac_trimmed = frac_part.trim_end_matches('0');
    if frac_trimmed.len() > exp {
        return Err((
            RejectReason::AmountInvalid,
            format!(
                "`{}` {} is not a whole number of KRW",
                quoted(text),
                unit_name(unit)
            ),
        ));
    }
    let mut all = String::with_capacity(int_part.len() + exp);
    all.push_str(int_part);
    all.push_str(frac_trimmed);
    all.extend(std::iter::repeat_n('0', exp - frac_trimmed.len()));
    let overflow = || {
        (
            RejectReason::AmountInvalid,
            format!("`{}` {} is too large", quoted(text), unit_name(unit)),
        )
    };
    let value: i64 = all
        .trim_start_matches('0')
        .parse::<i64>()
        .or_else(|e| match e.kind() {
            std::num::IntErrorKind::Empty => Ok(0),
            _ => Err(overflow()),
        })?;
    if negative && value != 0 {
        return Err((
            RejectReason::AmountNegative,
            format!("amount `{}` is negative", quoted(text)),
        ));
    }
    Ok(value)
}

/// The value as a reject's detail quotes it (clipped: a cell can be megabytes long).
fn quoted(text: &str) -> String {
    crate::model::clip(text, crate::model::QUOTED_CHARS)
}

fn unit_name(unit: AmountUnit) -> &'static str {
    match unit {
        AmountUnit::Krw => "원",
        AmountUnit::ThousandKrw => "천원",
        AmountUnit::MillionKrw => "백만원",
        AmountUnit::HundredMillionKrw => "억원",
        AmountUnit::TrillionKrw => "조원",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hundred_million_units_convert_exactly() {
        assert_eq!(
            parse_amount("22.6", AmountUnit::HundredMillionKrw),
            Ok(2_260_000_000)
        );
        assert_eq!(
            parse_amount("148.5", AmountUnit::HundredMillionKrw),
            Ok(14_850_000_000)
        );
        assert_eq!(
            parse_amount("3,500", AmountUnit::HundredMillionKrw),
            Ok(350_000_000_000)
        );
        assert_eq!(
            parse_amount("0.00000001", AmountUnit::HundredMillionKrw),
            Ok(1)
        );
    }

    #[test]
    fn krw_with_separators_and_full_width_digits() {
        assert_eq!(parse_amount(" 1,234,567 ", AmountUnit::Krw), Ok(1_234_567));
        assert_eq!(parse_amount("１２３", AmountUnit::ThousandKrw), Ok(123_000));
        assert_eq!(parse_amount("0", AmountUnit::Krw), Ok(0));
    }

    #[test]
    fn bad_amounts_are_rejected_with_their_reason() {
        assert_eq!(
            parse_amount("", AmountUnit::Krw).unwrap_err().0,
            RejectReason::AmountMissing
        );
        assert_eq!(
            parse_amount("  ", AmountUnit::Krw).unwrap_err().0,
            RejectReason::AmountMissing
        );
        assert_eq!(
            parse_amount("12a", AmountUnit::Krw).unwrap_err().0,
            RejectReason::AmountInvalid
        );
        assert_eq!(
            parse_amount("-5", AmountUnit::Krw).unwrap_err().0,
            RejectReason::AmountNegative
        );
        assert_eq!(
            parse_amount("1.5", AmountUnit::Krw).unwrap_err().0,
            RejectReason::AmountInvalid
        );
        assert_eq!(
            parse_amount(".", AmountUnit::Krw).unwrap_err().0,
            RejectReason::AmountInvalid
        );
        assert_eq!(
            parse_amount("99999999999", AmountUnit::TrillionKrw)
                .unwrap_err()
                .0,
            RejectReason::AmountInvalid
        );
    }
}

//! Phone number normalisation: the E.164 form, derived only when unambiguous.

/// The E.164 form of `number`, or `None` when it cannot be derived without a
/// guess. Ten-digit numbers are taken as North American (+1), which is what
/// every source the gateway serves stores; numbers written with a leading `+`
/// keep their country code.
pub fn to_e164(number: &str) -> Option<String> {
    let trimmed = number.trim();
    let allowed = |c: char| c.is_ascii_digit() || " -().+".contains(c);
    if trimmed.is_empty() || !trimmed.chars().all(allowed) {
        return None;
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if let Some(rest) = trimmed.strip_prefix('+') {
        if rest.contains('+') {
            return None;
        }
        return (8..=15)
            .contains(&digits.len())
            .then(|| format!("+{digits}"));
    }
    match digits.len() {
        10 => Some(format!("+1{digits}")),
        11 if digits.starts_with('1') => Some(format!("+{digits}")),
        _ => None,
    }
}

/// Digits only, for comparing numbers written in different styles.
pub fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_e164_from_common_styles() {
        for number in [
            "+15551234567",
            "+1-555-123-4567",
            "555-123-4567",
            "(555) 123-4567",
            "555 123 4567",
            "1 555 123 4567",
        ] {
            assert_eq!(to_e164(number).as_deref(), Some("+15551234567"), "{number}");
        }
        assert_eq!(
            to_e164("+44 20 7946 0958").as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn refuses_to_guess() {
        for number in [
            "",
            "123",
            "555-1234",
            "call me",
            "+1+555",
            "12345678901234567",
        ] {
            assert_eq!(to_e164(number), None, "{number}");
        }
    }
}

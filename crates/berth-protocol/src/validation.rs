//! The error every `validate` function returns: which field is wrong and why.

use std::fmt;

/// A request that parsed but breaks a rule. `field` is a dotted path such as `tools[2].name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    pub field: String,
    pub message: String,
    /// Set when the SDK should see a specific `error.details.error_code`.
    pub error_code: Option<&'static str>,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            error_code: None,
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.error_code = Some(code);
        self
    }

    /// Prefixes the field path, e.g. `name` inside `tools[0]` becomes `tools[0].name`.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

pub type Validated<T = ()> = Result<T, ValidationError>;

/// Checks a string's length in characters (not bytes) against inclusive bounds.
pub fn check_len(field: &str, value: &str, min: usize, max: usize) -> Validated {
    let chars = value.chars().count();
    if chars < min {
        if min == 1 {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        return Err(ValidationError::new(
            field,
            format!("must be at least {min} characters"),
        ));
    }
    if chars > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters (got {chars})"),
        ));
    }
    Ok(())
}

/// Rejects control characters, which have no place in names and identifiers.
pub fn check_no_control(field: &str, value: &str) -> Validated {
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    if value.chars().any(is_bidi_control) {
        return Err(ValidationError::new(
            field,
            "must not contain bidirectional embedding, override or isolate characters \
             (U+202A–U+202E, U+2066–U+2069), which make text display as something else",
        ));
    }
    Ok(())
}

/// Characters that reorder how the text around them is shown: in a name, they can make it look
/// like another (or hide part of it).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing by themselves: spaces and invisible formatting characters
/// (zero-width spaces and joiners, direction marks, word joiners, the byte-order mark, soft
/// hyphens).
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{FEFF}'
        )
}

/// A name people read (or that becomes a path): no control or bidirectional-override
/// characters, and at least one visible character.
pub fn check_name_text(field: &str, value: &str) -> Validated {
    check_no_control(field, value)?;
    if value.chars().all(is_invisible) {
        return Err(ValidationError::new(
            field,
            "must contain a visible character",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_need_visible_text_and_no_reordering() {
        assert!(check_name_text("name", "Research agent").is_ok());
        assert!(
            check_name_text("name", "בדיקה").is_ok(),
            "right-to-left text is fine"
        );
        for bad in [
            "\u{202E}",
            "\u{202E}\u{202E}",
            "evil\u{202E}txt.exe",
            "a\u{2066}b",
            " \u{200B} ",
            "\t",
        ] {
            assert!(check_name_text("name", bad).is_err(), "{bad:?}");
        }
    }
}

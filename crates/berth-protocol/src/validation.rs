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
    Ok(())
}

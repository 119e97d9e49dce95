//! The `model` of an agent: a bare id or `{id, effort?, inference_geo?, speed?}` in requests,
//! always the object form in responses.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::validation::{Validated, check_len, check_no_control};

pub const MAX_MODEL_ID_CHARS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EffortLevel {
    Low,
    Medium,
    High,
    Xhigh,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Speed {
    Standard,
    Fast,
}

/// `effort` in responses: always the object form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Effort {
    #[serde(rename = "type")]
    pub kind: EffortLevel,
}

/// The model an agent runs on, as every response renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModelConfig {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<Effort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_geo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<Speed>,
}

/// `model` in requests: a bare id string or `{id, effort?, inference_geo?, speed?}`, where
/// `effort` is itself a bare level or `{type: level}`.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
#[schema(value_type = Object)]
pub struct ModelParam(pub ModelConfig);

impl<'de> Deserialize<'de> for ModelParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        #[derive(Deserialize)]
        struct Object {
            id: String,
            #[serde(default)]
            effort: Option<Value>,
            #[serde(default)]
            inference_geo: Option<String>,
            #[serde(default)]
            speed: Option<Speed>,
        }

        match Value::deserialize(deserializer)? {
            Value::String(id) => Ok(ModelParam(ModelConfig {
                id,
                effort: None,
                inference_geo: None,
                speed: None,
            })),
            value @ Value::Object(_) => {
                let o: Object = serde_json::from_value(value).map_err(D::Error::custom)?;
                let effort = match o.effort {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(Effort {
                        kind: serde_json::from_value(Value::String(s))
                            .map_err(|e| D::Error::custom(format!("effort: {e}")))?,
                    }),
                    Some(other) => Some(
                        serde_json::from_value::<Effort>(other)
                            .map_err(|e| D::Error::custom(format!("effort: {e}")))?,
                    ),
                };
                Ok(ModelParam(ModelConfig {
                    id: o.id,
                    effort,
                    inference_geo: o.inference_geo,
                    speed: o.speed,
                }))
            }
            _ => Err(D::Error::custom(
                "expected a model id string or an object with an `id`",
            )),
        }
    }
}

pub(crate) fn validate_model(model: &ModelConfig) -> Validated {
    check_len("model.id", &model.id, 1, MAX_MODEL_ID_CHARS)?;
    check_no_control("model.id", &model.id)?;
    if let Some(geo) = &model.inference_geo {
        check_len("model.inference_geo", geo, 1, 64)?;
    }
    Ok(())
}

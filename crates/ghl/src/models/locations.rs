//! Location (sub-account) tags and custom field definitions.

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::common::{Extra, nullable};

/// A user of a location (`UserSchema`, the fields the product uses): who a task
/// or a contact can be assigned to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct User {
    /// User id.
    pub id: String,
    /// Full name.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tag defined in a location.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LocationTag {
    /// Tag id.
    pub id: String,
    /// Tag name.
    pub name: String,
    /// Location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Which records a custom field applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CustomFieldModel {
    /// Contacts.
    Contact,
    /// Opportunities.
    Opportunity,
    /// Both (list filter only).
    All,
}

impl CustomFieldModel {
    /// Wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contact => "contact",
            Self::Opportunity => "opportunity",
            Self::All => "all",
        }
    }
}

/// A custom field definition of a location.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LocationCustomField {
    /// Field id (the `id` used in contact `customFields`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Key such as `contact.pincode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_key: Option<String>,
    /// Placeholder text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// `TEXT`, `LARGE_TEXT`, `NUMERICAL`, `SINGLE_OPTIONS`, `CHECKBOX`, `FILE_UPLOAD`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// Position in forms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Number>,
    /// Options of select fields.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub picklist_options: Vec<Value>,
    /// Image options of select fields.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub picklist_image_options: Vec<Value>,
    /// Free values allowed in select fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_allowed_custom_option: Option<bool>,
    /// Several files allowed (file fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_multi_file_allowed: Option<bool>,
    /// Max files (file fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_file_limit: Option<Number>,
    /// Location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// `contact` or `opportunity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of `POST /locations/{locationId}/customFields`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCustomField {
    /// Display name (required).
    pub name: String,
    /// Data type (required), e.g. `TEXT`.
    pub data_type: String,
    /// Placeholder text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Accepted file formats (file fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_format: Option<Vec<String>>,
    /// Several files allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_multiple_file: Option<bool>,
    /// Max files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_number_of_files: Option<u32>,
    /// Options of list fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_box_list_options: Option<Vec<Value>>,
    /// Position in forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    /// `contact` or `opportunity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["contact", "opportunity"]))]
    pub model: Option<CustomFieldModel>,
}

/// Body of `PUT /locations/{locationId}/customFields/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCustomField {
    /// Display name (required by the spec).
    pub name: String,
    /// Placeholder text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Accepted file formats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_format: Option<Vec<String>>,
    /// Several files allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_multiple_file: Option<bool>,
    /// Max files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_number_of_files: Option<u32>,
    /// Options of list fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_box_list_options: Option<Vec<Value>>,
    /// Position in forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    /// `contact` or `opportunity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["contact", "opportunity"]))]
    pub model: Option<CustomFieldModel>,
}

//! Contacts: the record itself, its write DTOs, lists, bulk and follower bodies.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::common::{Extra, lenient_string, nullable};

/// A contact as GHL returns it (`GET /contacts/{id}`, create, update, upsert, lists,
/// search results). Fields GHL sends that are not named here stay in [`Contact::extra`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Contact {
    /// Contact id (20-char Firestore-style id).
    pub id: String,
    /// Location (sub-account) that owns the contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// Full name as GHL stores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Primary email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Primary phone, usually E.164.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Company name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// IANA time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Global do-not-disturb flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnd: Option<bool>,
    /// Per-channel do-not-disturb.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnd_settings: Option<DndSettings>,
    /// Inbound do-not-disturb.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound_dnd_settings: Option<InboundDndSettings>,
    /// Contact type, e.g. `lead` or `customer`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub contact_type: Option<String>,
    /// Where the contact came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// User id of the owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Street address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State or region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Country code (e.g. `US`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Website.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Tags on the contact.
    #[serde(deserialize_with = "nullable")]
    pub tags: Vec<String>,
    /// Date of birth as GHL renders it (string; numbers are kept as text).
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_of_birth: Option<String>,
    /// Creation time (ISO 8601).
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_added: Option<String>,
    /// Last update time (ISO 8601); used for echo suppression and conflict resolution.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_updated: Option<String>,
    /// Custom field values (`{id, value}`; GHL never returns the field key here).
    #[serde(deserialize_with = "nullable")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// Business (company record) the contact belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_id: Option<String>,
    /// User ids following the contact.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub followers: Vec<String>,
    /// First-touch attribution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution_source: Option<Value>,
    /// Last-touch attribution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attribution_source: Option<Value>,
    /// Sort cursor of this contact in search results; send the last one as the next
    /// request's `searchAfter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_after: Option<Vec<Value>>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Contact {
    /// The value of a custom field by id.
    pub fn custom_field(&self, id: &str) -> Option<&Value> {
        self.custom_fields
            .iter()
            .find(|f| f.id == id)
            .map(|f| &f.value)
    }
}

/// A custom field value on a returned contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct CustomFieldValue {
    /// Custom field id.
    pub id: String,
    /// The value: string, number, array (multi-select) or object (files).
    pub value: Value,
    /// Anything else GHL adds.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A custom field value to write: name the field by `id` or by `key`
/// (e.g. `contact.pincode`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CustomFieldInput {
    /// Custom field id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Custom field key, used when the id is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value (GHL's snake_case key): string, string array, number or file map.
    pub field_value: Value,
}

impl CustomFieldInput {
    /// A value for the field with this id.
    pub fn by_id(id: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            id: Some(id.into()),
            key: None,
            field_value: value.into(),
        }
    }

    /// A value for the field with this key.
    pub fn by_key(key: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            id: None,
            key: Some(key.into()),
            field_value: value.into(),
        }
    }
}

/// Per-channel do-not-disturb settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct DndSettings {
    /// Calls.
    #[serde(rename = "Call", skip_serializing_if = "Option::is_none")]
    pub call: Option<DndChannel>,
    /// Email.
    #[serde(rename = "Email", skip_serializing_if = "Option::is_none")]
    pub email: Option<DndChannel>,
    /// SMS.
    #[serde(rename = "SMS", skip_serializing_if = "Option::is_none")]
    pub sms: Option<DndChannel>,
    /// WhatsApp.
    #[serde(rename = "WhatsApp", skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<DndChannel>,
    /// Google Business messages.
    #[serde(rename = "GMB", skip_serializing_if = "Option::is_none")]
    pub gmb: Option<DndChannel>,
    /// Facebook.
    #[serde(rename = "FB", skip_serializing_if = "Option::is_none")]
    pub fb: Option<DndChannel>,
    /// Channels not named above (real payloads carry `RCS`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Do-not-disturb state of one channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct DndChannel {
    /// `active`, `inactive` or `permanent`.
    pub status: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Inbound do-not-disturb settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct InboundDndSettings {
    /// Applies to all channels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all: Option<InboundDndSetting>,
}

/// Inbound do-not-disturb state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct InboundDndSetting {
    /// `active` or `inactive`.
    pub status: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Body of `POST /contacts/` (`CreateContactDto`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateContact {
    /// Location to create the contact in (required).
    pub location_id: String,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Gender (create and upsert only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Global do-not-disturb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd: Option<bool>,
    /// Per-channel do-not-disturb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd_settings: Option<DndSettings>,
    /// Inbound do-not-disturb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_dnd_settings: Option<InboundDndSettings>,
    /// Tags (replaces the contact's tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Custom field values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<CustomFieldInput>>,
    /// Source label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Date of birth (e.g. `1990-09-25`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// Country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Company name (create and upsert only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Owner user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
}

/// Body of `PUT /contacts/{contactId}` (`UpdateContactDto`). It has no `locationId`,
/// `gender` or `companyName`: GHL rejects them with 422.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateContact {
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Global do-not-disturb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd: Option<bool>,
    /// Per-channel do-not-disturb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd_settings: Option<DndSettings>,
    /// Inbound do-not-disturb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_dnd_settings: Option<InboundDndSettings>,
    /// Tags (replaces the contact's tags; use add/remove tags to change some).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Custom field values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<CustomFieldInput>>,
    /// Source label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// Country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Owner user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
}

/// Body of `POST /contacts/upsert` (`UpsertContactDto`): the create fields plus
/// `createNewIfDuplicateAllowed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpsertContact {
    /// The contact fields (same as create).
    #[serde(flatten)]
    pub contact: CreateContact,
    /// Create a new contact when the location allows duplicates, instead of updating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_new_if_duplicate_allowed: Option<bool>,
}

impl From<CreateContact> for UpsertContact {
    fn from(contact: CreateContact) -> Self {
        Self {
            contact,
            create_new_if_duplicate_allowed: None,
        }
    }
}

/// Answer of `POST /contacts/upsert`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct UpsertResponse {
    /// `true` when a contact was created, `false` when one was updated.
    pub new: bool,
    /// The resulting contact.
    pub contact: Contact,
    /// Request trace id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Query of the deprecated `GET /contacts/`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListContactsQuery {
    /// Location to list.
    pub location_id: String,
    /// Page size, at most 100 (GHL's default is 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Cursor: `meta.startAfter` of the previous page (epoch millis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<i64>,
    /// Cursor: `meta.startAfterId` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after_id: Option<String>,
    /// Free-text filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// Answer of the deprecated `GET /contacts/`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ListContactsResponse {
    /// The page.
    #[serde(deserialize_with = "nullable")]
    pub contacts: Vec<Contact>,
    /// Count reported by GHL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Paging cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<ContactsMeta>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Paging block of `GET /contacts/`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ContactsMeta {
    /// Total matching contacts.
    #[serde(
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total: Option<u64>,
    /// Ready-made URL of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_url: Option<String>,
    /// Cursor id for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_after_id: Option<String>,
    /// Cursor timestamp (epoch millis) for the next page.
    #[serde(
        deserialize_with = "lenient_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_after: Option<i64>,
    /// Current page number.
    #[serde(
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub current_page: Option<u64>,
    /// Next page number, if any.
    #[serde(
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_page: Option<u64>,
    /// Previous page number, if any.
    #[serde(
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub prev_page: Option<u64>,
}

fn lenient_i64<'de, D: Deserializer<'de>>(de: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(de)? {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_u64<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    Ok(lenient_i64(de)?.and_then(|n| u64::try_from(n).ok()))
}

/// Query of `GET /contacts/business/{businessId}` (besides the business id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusinessContactsQuery {
    /// Location of the business.
    pub location_id: String,
    /// Page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<u32>,
    /// Free-text filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// `{contacts, count}` list answer (business contacts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ContactList {
    /// The page.
    #[serde(deserialize_with = "nullable")]
    pub contacts: Vec<Contact>,
    /// Count reported by GHL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Direction of a bulk tag update (`{type}` of `/contacts/bulk/tags/update/{type}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkTagAction {
    /// Add the tags.
    Add,
    /// Remove the tags (optionally all tags).
    Remove,
}

impl BulkTagAction {
    /// Path segment value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
        }
    }
}

/// Body of the bulk tag update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkTagsRequest {
    /// Contact ids.
    pub contacts: Vec<String>,
    /// Tags to add or remove.
    pub tags: Vec<String>,
    /// Location of the contacts.
    pub location_id: String,
    /// Remove every tag (remove action only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_all_tags: Option<bool>,
}

/// Answer of the bulk tag update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct BulkTagsResponse {
    /// Overall flag (GHL's spelling).
    pub succeded: bool,
    /// Number of contacts that failed.
    pub error_count: u64,
    /// One entry per contact.
    #[serde(deserialize_with = "nullable")]
    pub responses: Vec<BulkTagResult>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Outcome of a bulk tag update for one contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct BulkTagResult {
    /// Contact id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// `Tags updated` or the reason of the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `success` or `error`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub result_type: Option<String>,
    /// Tags before the update.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub old_tags: Vec<String>,
    /// Tags added.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub tags_added: Vec<String>,
    /// Tags removed.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub tags_removed: Vec<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of `POST /contacts/bulk/business`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkBusinessRequest {
    /// Location of the contacts.
    pub location_id: String,
    /// Contact ids.
    pub ids: Vec<String>,
    /// Business to attach to; `null` detaches the contacts. Always sent.
    #[schemars(required)]
    pub business_id: Option<String>,
}

/// Answer of `POST /contacts/bulk/business`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct BulkBusinessResponse {
    /// Overall flag.
    pub success: bool,
    /// Contact ids updated.
    #[serde(deserialize_with = "nullable")]
    pub ids: Vec<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Answer of the followers endpoints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct FollowersResponse {
    /// Followers after the change.
    #[serde(deserialize_with = "nullable")]
    pub followers: Vec<String>,
    /// Followers added (add).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub followers_added: Vec<String>,
    /// Followers removed (remove).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub followers_removed: Vec<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contact_keeps_unknown_fields_and_tolerates_nulls() {
        let raw = json!({
            "id": "c1", "locationId": "L1", "firstName": "Ann", "email": null,
            "tags": null, "type": "lead", "dateOfBirth": 638323200000_i64,
            "customFields": [{"id": "cf1", "value": ["a", "b"]}],
            "dndSettings": {"SMS": {"status": "active"}, "RCS": {"status": "inactive"}},
            "additionalEmails": [{"email": "b@example.com"}],
            "searchAfter": [1700000000000_i64, "c1"]
        });
        let c: Contact = serde_json::from_value(raw).unwrap();
        assert_eq!(c.id, "c1");
        assert!(c.email.is_none());
        assert!(c.tags.is_empty());
        assert_eq!(c.contact_type.as_deref(), Some("lead"));
        assert_eq!(c.date_of_birth.as_deref(), Some("638323200000"));
        assert_eq!(c.custom_field("cf1"), Some(&json!(["a", "b"])));
        assert_eq!(
            c.dnd_settings
                .as_ref()
                .unwrap()
                .sms
                .as_ref()
                .unwrap()
                .status,
            "active"
        );
        assert!(c.dnd_settings.as_ref().unwrap().extra.contains_key("RCS"));
        assert!(c.extra.contains_key("additionalEmails"));
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["additionalEmails"][0]["email"], "b@example.com");
        assert_eq!(back["type"], "lead");
    }

    #[test]
    fn write_dtos_only_send_what_is_set() {
        let create = CreateContact {
            location_id: "L1".to_owned(),
            email: Some("a@example.com".to_owned()),
            custom_fields: Some(vec![CustomFieldInput::by_key("contact.pincode", "123")]),
            ..Default::default()
        };
        let v = serde_json::to_value(&create).unwrap();
        assert_eq!(
            v,
            json!({"locationId": "L1", "email": "a@example.com",
                   "customFields": [{"key": "contact.pincode", "field_value": "123"}]})
        );
        let upsert = UpsertContact {
            create_new_if_duplicate_allowed: Some(false),
            ..UpsertContact::from(create)
        };
        let v = serde_json::to_value(&upsert).unwrap();
        assert_eq!(v["createNewIfDuplicateAllowed"], false);
        assert_eq!(v["locationId"], "L1");
        let update = UpdateContact {
            first_name: Some("Ann".to_owned()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            json!({"firstName": "Ann"})
        );
        let detach = BulkBusinessRequest {
            location_id: "L1".to_owned(),
            ids: vec!["c1".to_owned()],
            business_id: None,
        };
        assert_eq!(
            serde_json::to_value(&detach).unwrap()["businessId"],
            Value::Null
        );
    }

    #[test]
    fn list_meta_parses() {
        let raw = json!({"contacts": [{"id": "a"}], "count": 1,
            "meta": {"total": 5, "startAfter": 1700000000000_i64, "startAfterId": "a",
                     "nextPage": null, "nextPageUrl": "https://x"}});
        let r: ListContactsResponse = serde_json::from_value(raw).unwrap();
        let meta = r.meta.unwrap();
        assert_eq!(meta.start_after, Some(1_700_000_000_000));
        assert_eq!(meta.start_after_id.as_deref(), Some("a"));
        assert_eq!(meta.next_page, None);
    }
}

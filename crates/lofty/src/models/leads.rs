//! Leads (Lofty's contacts).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ListMeta;
use super::lenient;

/// A tag on a lead, or a tag definition (`lead_id == 0`) from `listTag`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LeadTag {
    /// The lead the tag is applied to; 0 for a team tag definition.
    #[serde(deserialize_with = "lenient::opt_id")]
    pub lead_id: Option<i64>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub tag_id: Option<i64>,
    pub tag_name: String,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub creator_user_id: Option<i64>,
    pub visible_type: Option<i64>,
    /// Fields not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LeadTag {
    /// Whether this entry is a team tag definition rather than a tag on a lead.
    pub fn is_definition(&self) -> bool {
        self.lead_id.unwrap_or(0) == 0
    }
}

/// A custom field value on a lead (`customAttributes` on reads,
/// `customAttributeList` on writes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct CustomAttribute {
    /// The team's custom field name.
    pub attribute_name: String,
    /// text, number, date, ... (optional on writes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_type: Option<String>,
    /// The value as text; multi-select values are a JSON array in a string.
    pub value: Option<String>,
    /// Select options (`{"option":[...]}` as a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<String>,
}

impl CustomAttribute {
    /// A value to write by field name.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            attribute_name: name.into(),
            attribute_type: None,
            value: Some(value.into()),
            params: None,
        }
    }
}

/// Who can see a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum OwnershipScope {
    /// The whole account.
    Team,
    /// One office (`ownershipId` = office id).
    Office,
    /// One agent (`ownershipId` = their user id); Lofty's default, owned by the caller.
    Personal,
}

/// A lead as `GET /v1.0/leads/{id}` and `GET /v1.0/leads` return it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Lead {
    #[serde(deserialize_with = "lenient::id")]
    pub lead_id: i64,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub lead_user_id: Option<i64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub emails: Vec<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub phones: Vec<String>,
    pub birthday: Option<String>,
    pub source: Option<String>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub stage_id: Option<i64>,
    pub stage: Option<String>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub assigned_user_id: Option<i64>,
    /// Display name of the assigned agent.
    pub assigned_user: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub tags: Vec<LeadTag>,
    #[serde(deserialize_with = "lenient::list")]
    pub custom_attributes: Vec<CustomAttribute>,
    #[serde(deserialize_with = "lenient::list")]
    pub lead_types: Vec<i64>,
    #[serde(deserialize_with = "lenient::list")]
    pub segments: Vec<String>,
    pub cannot_text: Option<bool>,
    pub cannot_call: Option<bool>,
    pub cannot_email: Option<bool>,
    pub hidden_flag: Option<bool>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub team_id: Option<i64>,
    pub ownership_scope: Option<String>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub ownership_id: Option<i64>,
    /// `YYYY-MM-DDThh:mm:ssGMT`.
    pub create_time: Option<String>,
    /// `YYYY-MM-DDThh:mm:ssGMT`.
    pub last_update_time: Option<String>,
    /// Fields not modelled above (inquiry, properties, qualifiers, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Lead {
    /// Names of the lead's tags.
    pub fn tag_names(&self) -> Vec<&str> {
        self.tags.iter().map(|t| t.tag_name.as_str()).collect()
    }

    /// The first email.
    pub fn email(&self) -> Option<&str> {
        self.emails.first().map(String::as_str)
    }

    /// The first phone.
    pub fn phone(&self) -> Option<&str> {
        self.phones.first().map(String::as_str)
    }

    /// The value of a custom field, by name.
    pub fn custom(&self, name: &str) -> Option<&str> {
        self.custom_attributes
            .iter()
            .find(|a| a.attribute_name.eq_ignore_ascii_case(name))
            .and_then(|a| a.value.as_deref())
    }

    /// `lastUpdateTime` parsed (UTC).
    pub fn updated_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.last_update_time
            .as_deref()
            .and_then(crate::time::parse)
    }
}

/// One page of `GET /v1.0/leads`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct LeadPage {
    /// Paging metadata (`_metadata`; its `scrollId` continues the search).
    #[serde(rename = "_metadata", alias = "get_metadata")]
    pub meta: ListMeta,
    #[serde(deserialize_with = "lenient::list")]
    pub leads: Vec<Lead>,
}

/// Filters and paging of `GET /v1.0/leads` (filters combine with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadQuery {
    /// Precise match on an email.
    pub email: Option<String>,
    /// Precise match on a phone (digits; a leading US country code is ignored).
    pub phone: Option<String>,
    /// Stage (lead pipeline) name.
    pub stage: Option<String>,
    /// Source name.
    pub source: Option<String>,
    pub assigned_user_id: Option<i64>,
    /// Leads having every one of these tags.
    pub all_tags: Vec<String>,
    /// Leads having any of these tags.
    pub any_tags: Vec<String>,
    pub segments: Vec<String>,
    /// Fuzzy search on name, phone or email.
    pub key: Option<String>,
    /// Sort order (`CreateTime`, `LastActivity`, ...; Lofty's default when unset).
    pub sort: Option<String>,
    pub desc: Option<bool>,
    /// Ask for exact email/phone matching.
    pub precise_search_flag: Option<bool>,
    /// Page size, 1..=100.
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    /// Cursor from the previous page's `_metadata.scrollId`.
    pub scroll_id: Option<String>,
}

impl LeadQuery {
    /// Leads with this email (precise).
    pub fn by_email(email: impl Into<String>) -> Self {
        Self {
            email: Some(email.into()),
            precise_search_flag: Some(true),
            ..Self::default()
        }
    }

    /// Leads with this phone (precise).
    pub fn by_phone(phone: impl Into<String>) -> Self {
        Self {
            phone: Some(phone.into()),
            precise_search_flag: Some(true),
            ..Self::default()
        }
    }

    /// Leads in this stage.
    pub fn by_stage(stage: impl Into<String>) -> Self {
        Self {
            stage: Some(stage.into()),
            ..Self::default()
        }
    }

    /// Leads having all of these tags.
    pub fn with_all_tags<S: Into<String>>(tags: impl IntoIterator<Item = S>) -> Self {
        Self {
            all_tags: tags.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// The input of `lofty-list-leads` (tag and segment lists comma-joined).
    pub fn to_input(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            if !v.is_null() {
                m.insert(k.to_owned(), v);
            }
        };
        let join = |v: &[String]| {
            if v.is_empty() {
                Value::Null
            } else {
                json!(v.join(","))
            }
        };
        put("email", json!(self.email));
        put("phone", json!(self.phone));
        put("stage", json!(self.stage));
        put("source", json!(self.source));
        put("assignedUserId", json!(self.assigned_user_id));
        put("allTags", join(&self.all_tags));
        put("anyTags", join(&self.any_tags));
        put("segments", join(&self.segments));
        put("key", json!(self.key));
        put("sort", json!(self.sort));
        put("desc", json!(self.desc));
        put("preciseSearchFlag", json!(self.precise_search_flag));
        put("limit", json!(self.limit));
        put("offset", json!(self.offset));
        put("scrollId", json!(self.scroll_id));
        Value::Object(m)
    }
}

/// Body of `POST /v1.0/leads`. Only `first_name` is required; unset fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateLead {
    /// Cut to 30 characters by Lofty.
    pub first_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<String>>,
    /// At most 20 characters each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phones: Option<Vec<String>>,
    /// Other -1, Seller 1, Buyer 2, Renter 5, Investor 6, Agent 7, Homeowner 8, Landlord 9.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_types: Option<Vec<i64>>,
    /// Assign directly (skips Lofty's routing rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A stage name of the team (< 20 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<String>>,
    /// Replaces all tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Adds tags, keeping the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags_add: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referred_by: Option<String>,
    /// `MMM d, yyyy` (e.g. `Jun 5, 2001`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_text: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_call: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsubscription: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_attribute_list: Option<Vec<CustomAttribute>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership_scope: Option<OwnershipScope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership_id: Option<i64>,
    /// Property or mailing address block (`LeadProperty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<Value>,
    /// Saved-search criteria (`LeadInquiry`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inquiry: Option<Value>,
    /// A first note on the lead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_pin: Option<bool>,
    /// Send Lofty's new-lead alert email (create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_alert: Option<bool>,
    /// Send Lofty's welcome email (create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub welcome_email: Option<bool>,
    /// Routing rule scope when `assigned_user_id` is unset: `-1` company rules, or an
    /// office id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign_group_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specified_assign_group_id: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_inquiry_param: Option<bool>,
    /// Buyer and seller qualification, a deal and the family.
    #[serde(flatten)]
    pub details: LeadDetails,
    /// Any other documented field, sent as is.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The qualification answers, a first transaction and family members of a lead, as
/// create and update take them. Unset fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadDetails {
    /// `1-3`, `3-6`, `6-12` (months), `12+`, `Just Looking` or `Refinancing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = TIME_FRAMES))]
    pub buying_time_frame: Option<String>,
    /// Same values as `buying_time_frame`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = TIME_FRAMES))]
    pub selling_time_frame: Option<String>,
    /// Needs a mortgage: `Yes` or `No`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = YES_NO))]
    pub mortgage: Option<String>,
    /// Wants to buy a house: `Yes` or `No`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = YES_NO))]
    pub buy_house: Option<String>,
    /// Pre-qualified: `Yes` or `No`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = YES_NO))]
    pub pre_qual: Option<String>,
    /// First-time home buyer: `Yes` or `No`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = YES_NO))]
    pub fthb: Option<String>,
    /// Has a house to sell: `Yes` or `No`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = YES_NO))]
    pub house_to_sell: Option<String>,
    /// Works with a buyer agent: `Yes` or `No`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = YES_NO))]
    pub with_buyer_agent: Option<String>,
    /// Works with a listing agent: `Yes` or `No`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = YES_NO))]
    pub with_listing_agent: Option<String>,
    /// A transaction to open on the lead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_transaction: Option<LeadTransaction>,
    /// Up to 4 family members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_family_member_list: Option<Vec<LeadFamilyMember>>,
}

/// The values of the `Yes`/`No` qualification answers.
const YES_NO: [&str; 2] = ["Yes", "No"];
/// The values of the buying and selling time frames.
const TIME_FRAMES: [&str; 6] = ["1-3", "3-6", "6-12", "12+", "Just Looking", "Refinancing"];

/// A transaction (deal) on a lead, as sent: `transaction_name` is required; the other
/// documented fields (`transactionType`, `homePrice`, dates in epoch milliseconds...)
/// are sent as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadTransaction {
    /// Property address or deal name; not blank.
    pub transaction_name: String,
    /// Any other documented transaction field.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A family member of a lead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadFamilyMember {
    pub first_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// To the lead, e.g. `Husband`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
    /// At most 20 characters each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phones: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<String>>,
    /// `MMM d, yyyy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
}

impl CreateLead {
    /// A lead with only a first name (set the other fields with struct update syntax).
    pub fn new(first_name: impl Into<String>) -> Self {
        Self {
            first_name: first_name.into(),
            ..Self::default()
        }
    }
}

/// Body of `PUT /v1.0/leads/{id}`: send only what changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateLead {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Replaces the email list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<String>>,
    /// Replaces the phone list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phones: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_types: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<String>>,
    /// Replaces the whole tag list (prefer `tags_add` / `tags_remove` when syncing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags_add: Option<Vec<String>>,
    /// Removes these names if the lead has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags_remove: Option<Vec<String>>,
    /// Removes every tag; wins over the other tag fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clear_all_tags: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referred_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_text: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_call: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsubscription: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_hidden: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_attribute_list: Option<Vec<CustomAttribute>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership_scope: Option<OwnershipScope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inquiry: Option<Value>,
    /// Buyer and seller qualification, a deal and the family.
    #[serde(flatten)]
    pub details: LeadDetails,
    /// Any other documented field, sent as is.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lead_details_are_typed_and_only_unknown_fields_fall_to_extra() {
        let body = json!({"firstName": "Ada", "mortgage": "Yes", "leadAlert": false,
            "leadTransaction": {"transactionName": "12 Elm St", "homePrice": 450000},
            "leadFamilyMemberList": [{"firstName": "Bo"}], "unknownThing": 1});
        let lead: CreateLead = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(lead.details.mortgage.as_deref(), Some("Yes"));
        assert_eq!(lead.lead_alert, Some(false));
        let t = lead.details.lead_transaction.as_ref().unwrap();
        assert_eq!(t.transaction_name, "12 Elm St");
        assert_eq!(t.other["homePrice"], 450000);
        assert_eq!(
            lead.details.lead_family_member_list.as_ref().unwrap()[0].first_name,
            "Bo"
        );
        assert_eq!(lead.extra.keys().collect::<Vec<_>>(), ["unknownThing"]);
        assert_eq!(serde_json::to_value(&lead).unwrap(), body, "sent as given");
    }
}

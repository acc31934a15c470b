//! The field registry: which fields each object type has, what kind of value each
//! holds, and which can be written. A sync file is checked against it when it is
//! built. The catalog issue extends it to every action; custom fields are read
//! from the connected accounts (selected by key inside `customFields`).

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Email,
    Phone,
    Number,
    Bool,
    DateTime,
    /// A list of values (`emails`, GHL `tags`).
    List,
    /// A list of objects (`customFields`, Lofty `tags`).
    Objects,
    Object,
    Id,
}

impl FieldKind {
    pub fn is_list(self) -> bool {
        matches!(self, Self::List | Self::Objects)
    }
}

/// One top-level field of an object type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: FieldKind,
    /// False for what the system sets (ids, timestamps).
    pub writable: bool,
}

/// An object type of a system (`ghl.contact`, `lofty.lead`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectType {
    pub name: &'static str,
    /// The field holding the record's id.
    pub id_field: &'static str,
    /// The field holding when the record last changed, if the system gives one.
    pub updated_field: Option<&'static str>,
    pub fields: Vec<FieldDef>,
    /// Where the account's own (custom) fields live, if the type has them.
    pub custom: Option<CustomShape>,
}

/// How an object type holds custom fields: a list of items, each naming its field
/// by `by` and holding its value in `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomShape {
    /// The list (`customFields`).
    pub list: &'static str,
    /// The item field that names the custom field in a record as read (GHL: `id`,
    /// since GHL's reads give no key; Lofty: `attributeName`).
    pub by: &'static str,
    /// The item field that holds the value.
    pub value: &'static str,
}

impl CustomShape {
    /// The path of one custom field's value (`customFields[id=abc].value`).
    pub fn path(&self, select: &str) -> String {
        format!("{}[{}={select}].{}", self.list, self.by, self.value)
    }
}

impl ObjectType {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn f(name: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        kind,
        writable: true,
    }
}

const fn ro(name: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        kind,
        writable: false,
    }
}

/// The object types the engine knows.
#[derive(Debug, Clone)]
pub struct Registry {
    types: Vec<ObjectType>,
}

impl Default for Registry {
    fn default() -> Self {
        use FieldKind::*;
        Self {
            types: vec![
                ObjectType {
                    name: "ghl.contact",
                    id_field: "id",
                    updated_field: Some("dateUpdated"),
                    fields: vec![
                        ro("id", Id),
                        ro("locationId", Id),
                        f("firstName", Text),
                        f("lastName", Text),
                        f("name", Text),
                        f("email", Email),
                        f("additionalEmails", List),
                        f("phone", Phone),
                        f("additionalPhones", List),
                        f("companyName", Text),
                        f("source", Text),
                        f("tags", List),
                        f("customFields", Objects),
                        f("address1", Text),
                        f("city", Text),
                        f("state", Text),
                        f("postalCode", Text),
                        f("country", Text),
                        f("website", Text),
                        f("timezone", Text),
                        f("dateOfBirth", DateTime),
                        f("dnd", Bool),
                        f("assignedTo", Id),
                        ro("type", Text),
                        ro("dateAdded", DateTime),
                        ro("dateUpdated", DateTime),
                    ],
                    custom: Some(CustomShape {
                        list: "customFields",
                        by: "id",
                        value: "value",
                    }),
                },
                ObjectType {
                    name: "lofty.lead",
                    id_field: "leadId",
                    updated_field: Some("lastUpdateTime"),
                    fields: vec![
                        ro("leadId", Id),
                        f("firstName", Text),
                        f("lastName", Text),
                        f("emails", List),
                        f("phones", List),
                        f("birthday", DateTime),
                        f("source", Text),
                        f("stage", Text),
                        f("stageId", Id),
                        f("assignedUserId", Id),
                        f("tags", Objects),
                        f("customAttributes", Objects),
                        f("segments", List),
                        f("cannotText", Bool),
                        f("cannotCall", Bool),
                        f("cannotEmail", Bool),
                        ro("teamId", Id),
                        ro("createTime", DateTime),
                        ro("lastUpdateTime", DateTime),
                    ],
                    custom: Some(CustomShape {
                        list: "customAttributes",
                        by: "attributeName",
                        value: "value",
                    }),
                },
                // Children of a contact / lead (their syncs have a `[parent]`).
                ObjectType {
                    name: "ghl.task",
                    id_field: "id",
                    updated_field: Some("dateUpdated"),
                    fields: vec![
                        ro("id", Id),
                        ro("contactId", Id),
                        f("title", Text),
                        f("body", Text),
                        f("dueDate", DateTime),
                        f("completed", Bool),
                        f("assignedTo", Id),
                        ro("dateAdded", DateTime),
                        ro("dateUpdated", DateTime),
                    ],
                    custom: None,
                },
                ObjectType {
                    name: "lofty.task",
                    id_field: "id",
                    updated_field: Some("lastUpdate"),
                    fields: vec![
                        ro("id", Id),
                        ro("leadId", Id),
                        f("content", Text),
                        f("type", Text),
                        f("startAt", DateTime),
                        f("endAt", DateTime),
                        f("timeZoneCode", Text),
                        f("finishFlag", Bool),
                        f("assignedUserId", Id),
                        ro("createTime", DateTime),
                        ro("lastUpdate", DateTime),
                    ],
                    custom: None,
                },
                // Appointments: GHL's calendar events, Lofty's calendar
                // (appointments share the task id space there).
                ObjectType {
                    name: "ghl.appointment",
                    id_field: "id",
                    updated_field: Some("dateUpdated"),
                    fields: vec![
                        ro("id", Id),
                        ro("contactId", Id),
                        f("calendarId", Id),
                        f("title", Text),
                        f("startTime", DateTime),
                        f("endTime", DateTime),
                        f("appointmentStatus", Text),
                        f("address", Text),
                        f("description", Text),
                        f("assignedUserId", Id),
                        ro("notes", Text),
                        ro("dateAdded", DateTime),
                        ro("dateUpdated", DateTime),
                    ],
                    custom: None,
                },
                ObjectType {
                    name: "lofty.appointment",
                    id_field: "id",
                    updated_field: Some("lastUpdate"),
                    fields: vec![
                        ro("id", Id),
                        ro("leadId", Id),
                        f("content", Text),
                        f("startAt", DateTime),
                        f("endAt", DateTime),
                        f("timeZoneCode", Text),
                        f("finishFlag", Bool),
                        f("address", Text),
                        ro("allDay", Bool),
                        ro("createTime", DateTime),
                        ro("lastUpdate", DateTime),
                    ],
                    custom: None,
                },
                ObjectType {
                    name: "ghl.note",
                    id_field: "id",
                    updated_field: Some("dateUpdated"),
                    fields: vec![
                        ro("id", Id),
                        ro("contactId", Id),
                        f("body", Text),
                        f("userId", Id),
                        ro("dateAdded", DateTime),
                        ro("dateUpdated", DateTime),
                    ],
                    custom: None,
                },
                ObjectType {
                    name: "lofty.note",
                    id_field: "noteId",
                    updated_field: Some("lastUpdate"),
                    fields: vec![
                        ro("noteId", Id),
                        ro("leadId", Id),
                        f("content", Text),
                        f("isPin", Bool),
                        ro("createTime", DateTime),
                        ro("lastUpdate", DateTime),
                    ],
                    custom: None,
                },
                // Lytho: the people on work items (Lytho has no contacts), tasks,
                // and comments (read-only). Lytho creates nothing through its API;
                // `users` is the item's users in Lytho's order (a child's parent
                // is picked from it: `users[0].id` is the first).
                ObjectType {
                    name: "lytho.user",
                    id_field: "id",
                    updated_field: None,
                    fields: vec![
                        ro("id", Id),
                        ro("accountId", Id),
                        ro("firstName", Text),
                        ro("lastName", Text),
                        ro("email", Email),
                        ro("active", Bool),
                    ],
                    custom: None,
                },
                ObjectType {
                    name: "lytho.task",
                    id_field: "id",
                    updated_field: Some("modifiedDate"),
                    fields: vec![
                        ro("id", Id),
                        ro("accountId", Id),
                        f("name", Text),
                        f("dueDate", DateTime),
                        f("completed", Bool),
                        f("archived", Bool),
                        ro("completedDate", DateTime),
                        ro("users", Objects),
                        ro("createdDate", DateTime),
                        ro("modifiedDate", DateTime),
                    ],
                    custom: None,
                },
                // A GHL note kept in a Lytho item's description (Lytho has no
                // writable notes): a marked block ghlsync adds, edits and removes.
                ObjectType {
                    name: "lytho.note",
                    id_field: "id",
                    updated_field: None,
                    fields: vec![
                        ro("id", Id),
                        ro("itemType", Text),
                        ro("itemId", Id),
                        ro("userId", Id),
                        f("body", Text),
                    ],
                    custom: None,
                },
                ObjectType {
                    name: "lytho.comment",
                    id_field: "id",
                    updated_field: Some("createdDate"),
                    fields: vec![
                        ro("id", Id),
                        ro("itemType", Text),
                        ro("itemId", Id),
                        ro("itemName", Text),
                        ro("comment", Text),
                        ro("text", Text),
                        ro("userId", Id),
                        ro("firstName", Text),
                        ro("lastName", Text),
                        ro("users", Objects),
                        ro("createdDate", DateTime),
                    ],
                    custom: None,
                },
            ],
        }
    }
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<&ObjectType> {
        self.types.iter().find(|t| t.name == name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.types.iter().map(|t| t.name).collect()
    }

    /// Adds or replaces an object type (the catalog, tests).
    pub fn insert(&mut self, object: ObjectType) {
        self.types.retain(|t| t.name != object.name);
        self.types.push(object);
    }
}

//! The committed `schema.graphql` matches the code, and documents everything.

#[test]
fn schema_graphql_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let generated = contact_gateway::graphql::sdl();
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != generated {
        std::fs::write(path, &generated).expect("rewrite schema.graphql");
        panic!("schema.graphql was not up to date; it has been rewritten, rerun the tests and commit it");
    }
}

#[tokio::test]
async fn every_type_and_field_has_a_description() {
    let schema = contact_gateway::graphql::build_schema(
        &Default::default(),
        &Default::default(),
        &Default::default(),
        Default::default(),
    );
    let response = schema
        .execute("{ __schema { types { name description fields { name description args { name description } } enumValues { name description } inputFields { name description } } } }")
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    let mut undocumented = Vec::new();
    let described = |value: &serde_json::Value| {
        value["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty())
    };
    for ty in data["__schema"]["types"].as_array().unwrap() {
        let name = ty["name"].as_str().unwrap();
        if name.starts_with("__") || ["String", "Int", "Float", "Boolean", "ID"].contains(&name) {
            continue;
        }
        if !described(ty) {
            undocumented.push(name.to_string());
        }
        for member in ["fields", "enumValues", "inputFields"] {
            for field in ty[member].as_array().into_iter().flatten() {
                if !described(field) {
                    undocumented.push(format!("{name}.{}", field["name"]));
                }
                for arg in field["args"].as_array().into_iter().flatten() {
                    if !described(arg) {
                        undocumented.push(format!("{name}.{}({})", field["name"], arg["name"]));
                    }
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented: {undocumented:#?}");
}

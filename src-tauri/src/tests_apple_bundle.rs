//! The macOS bundle's keychain configuration, checked on every platform: the entitlements that
//! let Touch ID unlock open the data-protection keychain agree with the app's identifier, the
//! access group `keychain_apple.rs` writes into, and the bundle configuration that signs them in
//! and embeds the provisioning profile authorising them. (Only a signed build on a Mac shows that
//! macOS accepts them: docs/PLATFORMS.md, "Before shipping".)

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn conf() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("tauri.conf.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn entitlements(conf: &serde_json::Value) -> plist::Dictionary {
    let file = conf["bundle"]["macOS"]["entitlements"]
        .as_str()
        .expect("bundle.macOS.entitlements names the entitlements file");
    plist::Value::from_file(root().join(file))
        .unwrap()
        .into_dictionary()
        .expect("the entitlements are a dictionary")
}

fn string<'a>(dict: &'a plist::Dictionary, key: &str) -> &'a str {
    dict.get(key)
        .and_then(plist::Value::as_string)
        .unwrap_or_else(|| panic!("{key} is a string"))
}

#[test]
fn the_macos_entitlements_name_this_apps_identifier_and_its_one_keychain_group() {
    let conf = conf();
    let identifier = conf["identifier"].as_str().unwrap();
    let ent = entitlements(&conf);
    let team = string(&ent, "com.apple.developer.team-identifier");
    assert!(
        team.len() == 10
            && team
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "a team identifier is ten upper-case letters or digits: {team}"
    );
    let app_id = string(&ent, "com.apple.application-identifier");
    assert_eq!(app_id, format!("{team}.{identifier}"));
    let groups: Vec<&str> = ent
        .get("keychain-access-groups")
        .and_then(plist::Value::as_array)
        .expect("keychain-access-groups is an array")
        .iter()
        .filter_map(plist::Value::as_string)
        .collect();
    // keychain_apple.rs names no access group, so the keychain uses the first one listed: it must
    // be the app's own identifier, the group the app ID's provisioning profile grants.
    assert_eq!(groups, [app_id]);
}

#[test]
fn the_keychain_code_uses_the_data_protection_keychain_and_the_default_access_group() {
    let code = std::fs::read_to_string(root().join("crates/latchkey-vault/src/keychain_apple.rs"))
        .unwrap();
    assert!(code.contains("use_protected_keychain()"));
    assert!(
        !code.contains("set_access_group("),
        "an explicit access group must be listed in Entitlements.macos.plist too"
    );
}

#[test]
fn the_macos_bundle_signs_the_entitlements_in_and_embeds_the_provisioning_profile() {
    let conf = conf();
    let mac = &conf["bundle"]["macOS"];
    assert_eq!(mac["hardenedRuntime"], true);
    // Where macOS looks for the profile that authorises restricted entitlements.
    let profile = mac["files"]["embedded.provisionprofile"].as_str().unwrap();
    assert!(profile.ends_with(".provisionprofile"), "{profile}");
    // kSecUseDataProtectionKeychain (security-framework's OSX_10_15 feature) needs 10.15.
    let minimum = mac["minimumSystemVersion"].as_str().unwrap();
    let version: Vec<u32> = minimum.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(version >= vec![10, 15], "{minimum}");
}

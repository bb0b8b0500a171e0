//! API keys: how they are made, stored and recognised.
//!
//! A key is `cgk_` and 32 random bytes in unpadded base64url: high entropy,
//! so its SHA-256 alone is a safe thing to keep in a configuration file (no
//! salt or slow hash is needed against guessing). The gateway keeps only
//! these hashes, and recognises a key by hashing what a caller sent.

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use crate::config::Secret;

/// The prefix of every key, so that a key found in a log or a repository is
/// recognisable as one of ours.
pub const KEY_PREFIX: &str = "cgk_";

/// The SHA-256 of a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// The hash of `key`, as the caller sent it.
    pub fn of(key: &str) -> KeyHash {
        KeyHash(Sha256::digest(key.as_bytes()).into())
    }

    /// Reads `sha256:HEX` (64 hexadecimal digits).
    pub fn parse(text: &str) -> Result<KeyHash, &'static str> {
        let hex = text
            .trim()
            .strip_prefix("sha256:")
            .ok_or("a key hash is written `sha256:` and 64 hexadecimal digits")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("a key hash is written `sha256:` and 64 hexadecimal digits");
        }
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16)
                .map_err(|_| "a key hash is written `sha256:` and 64 hexadecimal digits")?;
        }
        Ok(KeyHash(bytes))
    }
}

impl std::fmt::Display for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sha256:")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// A fresh key from the operating system's random source.
pub fn new_key() -> Result<Secret, ring::error::Unspecified> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(Secret::new(format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )))
}

/// What `contact-gateway keys new NAME` prints: the key once, and the
/// configuration lines that let it in.
pub fn new_key_text(principal: &str, key: &Secret) -> String {
    let hash = KeyHash::of(key.expose());
    format!(
        "key: {key}\n\
         \n\
         Give the key to the caller, who sends it as `Authorization: Bearer <key>` or\n\
         `X-Api-Key: <key>`. It is shown only now; the gateway keeps its hash alone.\n\
         Add the hash to the principal in the configuration (a principal may list\n\
         several, for instance while a key is replaced):\n\
         \n\
         [auth.principals.{principal}]\n\
         key_hashes = [\"{hash}\"]\n",
        key = key.expose(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_prefixed_and_hash_to_what_parse_reads() {
        let first = new_key().unwrap();
        let second = new_key().unwrap();
        assert_ne!(first, second);
        assert!(first.expose().starts_with(KEY_PREFIX));
        assert_eq!(first.expose().len(), KEY_PREFIX.len() + 43);
        let hash = KeyHash::of(first.expose());
        assert_eq!(KeyHash::parse(&hash.to_string()), Ok(hash));
        assert_ne!(KeyHash::of(second.expose()), hash);
    }

    #[test]
    fn the_hash_is_sha256_in_hex() {
        assert_eq!(
            KeyHash::of("abc").to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(KeyHash::parse("ba7816bf").is_err());
        assert!(KeyHash::parse("sha256:zz").is_err());
    }

    #[test]
    fn the_printed_lines_hold_the_hash_not_only_the_key() {
        let key = new_key().unwrap();
        let text = new_key_text("dashboard", &key);
        assert!(text.contains("[auth.principals.dashboard]"));
        assert!(text.contains(&KeyHash::of(key.expose()).to_string()));
    }
}

//! Lotus's API tokens: HS256 JWTs whose payload is `{"Allow": [permissions]}`, signed with a
//! secret the devnet keeps in its store (so tokens outlive a restart). A token grants the
//! highest permission it lists.

use anyhow::{Result, anyhow};
use data_encoding::BASE64URL_NOPAD;
use prolly_client::Store;
use prolly_client::server::rpc::Perm;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};

const SECRET_KEY: &str = "devnet/jwt-secret";
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub struct Auth {
    key: hmac::Key,
}

impl Auth {
    /// The store's secret, made on first use.
    pub fn open(store: &Store) -> Result<Auth> {
        let secret = match store.meta(SECRET_KEY)? {
            Some(secret) => secret,
            None => {
                let mut secret = vec![0u8; 32];
                SystemRandom::new()
                    .fill(&mut secret)
                    .map_err(|_| anyhow!("no system randomness for the API secret"))?;
                let writer = store.write()?;
                writer.set_meta(SECRET_KEY, &secret)?;
                writer.commit()?;
                secret
            }
        };
        Ok(Auth {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        })
    }

    /// A token allowing `perms` (Lotus's admin token lists all four).
    pub fn token(&self, perms: &[Perm]) -> String {
        let allow: Vec<&str> = perms.iter().map(|p| p.name()).collect();
        let payload = json!({ "Allow": allow }).to_string();
        let signing_input = format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(HEADER.as_bytes()),
            BASE64URL_NOPAD.encode(payload.as_bytes())
        );
        let tag = hmac::sign(&self.key, signing_input.as_bytes());
        format!("{signing_input}.{}", BASE64URL_NOPAD.encode(tag.as_ref()))
    }

    /// The permission a token grants, or `None` when it does not verify.
    pub fn verify(&self, token: &str) -> Option<Perm> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        let signature = BASE64URL_NOPAD.decode(signature.as_bytes()).ok()?;
        hmac::verify(&self.key, signing_input.as_bytes(), &signature).ok()?;
        let header: Value =
            serde_json::from_slice(&BASE64URL_NOPAD.decode(header.as_bytes()).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "HS256" {
            return None;
        }
        let payload: Value =
            serde_json::from_slice(&BASE64URL_NOPAD.decode(payload.as_bytes()).ok()?).ok()?;
        payload
            .get("Allow")?
            .as_array()?
            .iter()
            .filter_map(|p| p.as_str().and_then(Perm::parse))
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_tampered_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_database(dir.path()).unwrap();
        let auth = Auth::open(&store).unwrap();
        let admin = auth.token(&[Perm::Read, Perm::Write, Perm::Sign, Perm::Admin]);
        assert_eq!(auth.verify(&admin), Some(Perm::Admin));
        assert_eq!(auth.verify(&auth.token(&[Perm::Read])), Some(Perm::Read));
        let mut tampered = admin.clone();
        tampered.insert(tampered.len() - 3, 'A');
        assert_eq!(auth.verify(&tampered), None);
        assert_eq!(auth.verify("not.a.token"), None);
        // Another devnet's secret does not verify this one's tokens; the same store's does.
        let other = tempfile::tempdir().unwrap();
        let other = Auth::open(&Store::open_database(other.path()).unwrap()).unwrap();
        assert_eq!(other.verify(&admin), None);
        assert_eq!(
            Auth::open(&store).unwrap().verify(&admin),
            Some(Perm::Admin)
        );
    }
}

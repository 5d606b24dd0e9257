//! Signed receipts (API.md, "Retries and receipts"): every submission body carries
//! `{"payload", "signature"}`, where the payload is
//! `contestd-receipt-v1|<contest_id>|<student_id>|<submission id>|<submitted_at>|<answers hash>`
//! and the signature is Ed25519 over the payload's bytes, in base64url without padding.
//!
//! - `submitted_at` is written as every submission body writes it (`format_time`): RFC 3339 in
//!   UTC with exactly three fractional digits, `2026-11-28T19:00:00.120Z`.
//! - The answers hash is the lowercase hex SHA-256 of the answers array sorted by
//!   `question_id`, in RFC 8785 canonical JSON (`answers_hash`): what my-submission shows.
//! - The key pair is made at the first start and kept in the database (`Signer::load`), so every
//!   node and every restart signs with the same key; only the public half leaves the server.
//! - Ed25519 signatures are deterministic, so a receipt is signed where it is sent (once per
//!   `201`, once per submission read) and is the same every time; nothing but the answers hash
//!   is stored.

use std::fmt::Write as _;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signer as _, SigningKey, SECRET_KEY_LENGTH};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::model::{Answer, AnswersHash, Id};
use crate::store::{Store, StoreError, Submission};

/// What `GET /api/receipts/public-key` names.
pub const ALGORITHM: &str = "ed25519";
/// The first field of every payload.
pub const PAYLOAD_VERSION: &str = "contestd-receipt-v1";

/// A receipt as submission bodies carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub payload: String,
    pub signature: String,
}

/// Signs receipts with the deployment's key. Its `Debug` shows the public key only.
pub struct Signer {
    key: SigningKey,
    /// base64url, no padding.
    public_key: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// Why the stored key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored receipt key is corrupt: {0}")]
    Corrupt(&'static str),
}

impl Signer {
    pub fn from_seed(seed: &[u8; SECRET_KEY_LENGTH]) -> Signer {
        let key = SigningKey::from_bytes(seed);
        let public_key = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        Signer { key, public_key }
    }

    /// The deployment's key: the stored one, or a new one stored now if there is none (see
    /// `Store::receipt_key` for two nodes starting at once).
    pub async fn load(store: &Store) -> Result<Signer, KeyError> {
        let mut fresh = Zeroizing::new([0u8; SECRET_KEY_LENGTH]);
        OsRng.fill_bytes(fresh.as_mut());
        let candidate = Signer::from_seed(&fresh);
        let public_key = candidate.key.verifying_key();
        let (seed, stored_public) = store
            .receipt_key(fresh.as_ref(), public_key.as_bytes(), crate::model::now())
            .await?;
        let seed = Zeroizing::new(seed);
        let seed: &[u8; SECRET_KEY_LENGTH] = seed
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Corrupt("the seed is not 32 bytes"))?;
        let signer = Signer::from_seed(seed);
        if signer.key.verifying_key().as_bytes().as_slice() != stored_public.as_slice() {
            return Err(KeyError::Corrupt(
                "the public key is not the seed's public key",
            ));
        }
        Ok(signer)
    }

    /// The public key, base64url without padding.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The receipt of a submission.
    pub fn receipt(
        &self,
        contest_id: Id,
        student_id: Id,
        id: Uuid,
        submitted_at: DateTime<Utc>,
        answers_hash: &AnswersHash,
    ) -> Receipt {
        let mut payload = format!(
            "{PAYLOAD_VERSION}|{contest_id}|{student_id}|{id}|{}|",
            format_time(submitted_at)
        );
        for byte in answers_hash {
            // Writing to a String cannot fail.
            let _ = write!(payload, "{byte:02x}");
        }
        let signature = URL_SAFE_NO_PAD.encode(self.key.sign(payload.as_bytes()).to_bytes());
        Receipt { payload, signature }
    }

    /// The receipt of a stored submission, from its stored answers hash (computed from its
    /// answers for rows from before receipts).
    pub fn receipt_of(&self, s: &Submission) -> Result<Receipt, serde_json::Error> {
        let hash = match s.idempotency().answers_hash {
            Some(hash) => hash,
            None => answers_hash(&s.answers)?,
        };
        Ok(self.receipt(s.contest_id, s.student_id, s.id, s.submitted_at, &hash))
    }
}

/// SHA-256 of the answers sorted by `question_id`, as RFC 8785 canonical JSON. Fails only for
/// a number JSON cannot hold (no parsed answer has one).
pub fn answers_hash(answers: &[Answer]) -> Result<AnswersHash, serde_json::Error> {
    let mut sorted: Vec<&Answer> = answers.iter().collect();
    sorted.sort_by_key(|a| a.question_id);
    let canonical = serde_json_canonicalizer::to_vec(&sorted)?;
    Ok(Sha256::digest(&canonical).into())
}

/// `submitted_at` as submission bodies and receipts write it: RFC 3339, UTC, milliseconds
/// (the precision the server keeps), e.g. `2026-11-28T19:00:00.000Z`.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `#[serde(serialize_with)]` for times written as `format_time` writes them.
pub fn serialize_time<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_time(*at))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    use super::*;
    use crate::model::Answer;

    fn answers(json: &str) -> Vec<Answer> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_hash_is_over_sorted_canonical_answers() {
        let sent = answers(
            r#"[{"question_id": 12, "text": "Straße \"B\""}, {"question_id": 3, "value": 9.80},
                {"question_id": 7, "options": [2, 0]}, {"question_id": 1, "option": 1},
                {"question_id": 4, "value": 3.0}, {"question_id": 5, "value": 1e21}]"#,
        );
        let canonical = r#"[{"option":1,"question_id":1},{"question_id":3,"value":9.8},{"question_id":4,"value":3},{"question_id":5,"value":1e+21},{"options":[2,0],"question_id":7},{"question_id":12,"text":"Straße \"B\""}]"#;
        let expected: AnswersHash = Sha256::digest(canonical.as_bytes()).into();
        assert_eq!(answers_hash(&sent).unwrap(), expected);
        // The order they were sent in does not matter.
        let mut reversed = sent.clone();
        reversed.reverse();
        assert_eq!(answers_hash(&reversed).unwrap(), expected);
        assert_ne!(answers_hash(&sent[1..]).unwrap(), expected);
        assert_eq!(
            answers_hash(&[]).unwrap(),
            <AnswersHash>::from(Sha256::digest(b"[]"))
        );
    }

    #[test]
    fn receipts_verify_with_the_public_key_and_tampering_fails() {
        let signer = Signer::from_seed(&[7; 32]);
        let at = Utc.with_ymd_and_hms(2026, 11, 28, 19, 0, 0).unwrap();
        let id = Uuid::parse_str("0190f3b0-0000-7000-8000-000000000001").unwrap();
        let receipt = signer.receipt(3, 42, id, at, &[0xab; 32]);
        assert_eq!(
            receipt.payload,
            format!(
                "contestd-receipt-v1|3|42|0190f3b0-0000-7000-8000-000000000001|\
                 2026-11-28T19:00:00.000Z|{}",
                "ab".repeat(32)
            )
        );
        let public: [u8; 32] = URL_SAFE_NO_PAD
            .decode(signer.public_key())
            .unwrap()
            .try_into()
            .unwrap();
        let public = VerifyingKey::from_bytes(&public).unwrap();
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(&receipt.signature)
            .unwrap()
            .try_into()
            .unwrap();
        let signature = Signature::from_bytes(&signature);
        assert!(public
            .verify(receipt.payload.as_bytes(), &signature)
            .is_ok());
        let tampered = receipt.payload.replace("|42|", "|43|");
        assert!(public.verify(tampered.as_bytes(), &signature).is_err());
        // Deterministic: the same receipt every time it is signed.
        assert_eq!(signer.receipt(3, 42, id, at, &[0xab; 32]), receipt);
        assert!(!format!("{signer:?}").contains("key: SigningKey"));
    }

    #[test]
    fn times_always_have_three_fractional_digits() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_time(at), "2026-01-02T03:04:05.000Z");
        let at = at + chrono::TimeDelta::milliseconds(120);
        assert_eq!(format_time(at), "2026-01-02T03:04:05.120Z");
    }
}

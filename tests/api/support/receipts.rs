//! Receipts checked the way a client checks them: with the public key alone (ed25519-dalek),
//! and the answers hash recomputed from what my-submission shows (RFC 8785 JSON, SHA-256).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{assert_keys, str_field, TestApp};

impl TestApp {
    /// `GET /api/receipts/public-key`, without a token: the key that verifies receipts.
    pub async fn receipt_key(&self) -> VerifyingKey {
        let (status, body) = self.get("/api/receipts/public-key", None).await;
        assert_eq!(status, StatusCode::OK, "public key: {body}");
        assert_keys(&body, &["algorithm", "public_key"]);
        assert_eq!(body["algorithm"], "ed25519", "{body}");
        let encoded = str_field(&body, "public_key");
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(encoded)
            .unwrap_or_else(|e| panic!("{encoded:?} is not unpadded base64url: {e}"))
            .try_into()
            .unwrap_or_else(|b: Vec<u8>| panic!("a 32-byte key, got {} bytes", b.len()));
        VerifyingKey::from_bytes(&bytes).expect("an Ed25519 public key")
    }
}

/// Whether `signature` (unpadded base64url) is `key`'s Ed25519 signature of `payload`.
pub fn receipt_verifies(key: &VerifyingKey, payload: &str, signature: &str) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(bytes) else {
        return false;
    };
    key.verify(payload.as_bytes(), &Signature::from_bytes(&bytes))
        .is_ok()
}

/// The lowercase hex SHA-256 of `answers` in RFC 8785 canonical JSON.
pub fn answers_hash(answers: &Value) -> String {
    let canonical = serde_json_canonicalizer::to_vec(answers).expect("canonical JSON");
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks the receipt of a submission body (a `201`, a my-submission, an entry of the bulk
/// list) with `key` alone: the signature verifies, the payload names the body's contest,
/// student, id and `submitted_at` (the very string), and its hash is that of `answers` (the
/// answers as my-submission shows them). Returns the payload's fields.
#[track_caller]
pub fn check_receipt(key: &VerifyingKey, body: &Value, answers: &Value) -> Vec<String> {
    let receipt = &body["receipt"];
    assert_keys(receipt, &["payload", "signature"]);
    let payload = str_field(receipt, "payload");
    let signature = str_field(receipt, "signature");
    assert!(
        receipt_verifies(key, payload, signature),
        "the receipt does not verify: {body}"
    );
    let fields: Vec<String> = payload.split('|').map(str::to_string).collect();
    assert_eq!(fields.len(), 6, "six fields in {payload:?}");
    assert_eq!(fields[0], "contestd-receipt-v1");
    assert_eq!(fields[1], body["contest_id"].to_string(), "{payload}");
    assert_eq!(fields[2], body["student_id"].to_string(), "{payload}");
    assert_eq!(fields[3], str_field(body, "id"), "{payload}");
    assert_eq!(fields[4], str_field(body, "submitted_at"), "{payload}");
    assert_eq!(
        fields[5],
        answers_hash(answers),
        "the answers hash: {payload}"
    );
    fields
}

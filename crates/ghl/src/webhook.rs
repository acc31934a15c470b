//! Verification of GHL webhook signatures.
//!
//! GHL signs each webhook over the **raw body bytes** (verify before parsing JSON):
//!
//! - `X-GHL-Signature`: Ed25519, base64 signature. The current scheme.
//! - `X-WH-Signature`: RSASSA-PKCS1-v1_5 with SHA-256, base64 signature, checked against
//!   the RSA public key published in HighLevel's docs. Legacy, announced to go away.
//!
//! [`WebhookVerifier::verify`] follows the official SDKs: when `X-GHL-Signature` is
//! present only Ed25519 is checked (no fallback to RSA, so a forged Ed25519 header cannot
//! be rescued by an RSA one); otherwise `X-WH-Signature` is checked with RSA; with neither
//! header the request is rejected as [`SignatureError::Missing`].
//!
//! Keys are parsed here without extra crates: an Ed25519 `PUBLIC KEY` PEM is a fixed
//! 12-byte DER prefix plus the 32 key bytes, and for RSA a small DER walker takes the
//! PKCS#1 `RSAPublicKey` out of the SubjectPublicKeyInfo, which is what ring wants.
//! The sandbox signs with its own keys, so both keys are configurable.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ed25519_dalek::{Signature, VerifyingKey};
use reqwest::header::HeaderMap;

/// HighLevel's published RSA key for `X-WH-Signature` (4096-bit, from the webhook
/// authentication guide).
pub const GHL_RSA_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
";

/// HighLevel's Ed25519 key for `X-GHL-Signature`, as quoted from the Webhook Integration
/// Guide by many independent integrations.
pub const GHL_ED25519_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
";

/// Header of the Ed25519 signature.
pub const HEADER_GHL_SIGNATURE: &str = "x-ghl-signature";
/// Header of the legacy RSA signature.
pub const HEADER_WH_SIGNATURE: &str = "x-wh-signature";

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (SEQUENCE, algorithm id 1.3.101.112,
/// BIT STRING of 33 bytes with 0 unused bits), followed by the 32 key bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// DER body of the rsaEncryption OID, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION_OID: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// Base64 that accepts padded and unpadded input.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a webhook was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Neither signature header is present.
    #[error("webhook signature missing")]
    Missing,
    /// The signature header is not valid base64 or has the wrong length.
    #[error("webhook signature malformed: {0}")]
    Malformed(&'static str),
    /// The signature does not match the body.
    #[error("webhook signature invalid")]
    Invalid,
    /// The request is signed with a scheme we hold no key for.
    #[error("no {0} key configured for webhook verification")]
    KeyNotConfigured(&'static str),
    /// A configured public key cannot be parsed.
    #[error("bad webhook public key: {0}")]
    BadKey(&'static str),
}

/// Which signature was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedBy {
    /// `X-GHL-Signature`.
    Ed25519,
    /// `X-WH-Signature`.
    Rsa,
}

/// Decodes a PEM block (any label) or bare base64 into DER bytes.
fn decode_key_text(text: &str) -> Result<Vec<u8>, SignatureError> {
    let text = text.trim();
    let body: String = if text.starts_with("-----BEGIN") {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("-----"))
            .collect()
    } else {
        text.split_whitespace().collect()
    };
    B64.decode(body.as_bytes())
        .map_err(|_| SignatureError::BadKey("not PEM or base64"))
}

fn decode_signature(signature_b64: &str) -> Result<Vec<u8>, SignatureError> {
    let sig = signature_b64.trim();
    if sig.is_empty() {
        return Err(SignatureError::Missing);
    }
    B64.decode(sig.as_bytes())
        .map_err(|_| SignatureError::Malformed("not base64"))
}

/// An Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ed25519PublicKey(VerifyingKey);

impl Ed25519PublicKey {
    /// Parses a `PUBLIC KEY` PEM, base64 SPKI DER, or base64 of the 32 raw key bytes.
    pub fn parse(pem_or_base64: &str) -> Result<Self, SignatureError> {
        let der = decode_key_text(pem_or_base64)?;
        let raw: &[u8] = match der.len() {
            32 => &der,
            44 if der[..12] == ED25519_SPKI_PREFIX => &der[12..],
            _ => return Err(SignatureError::BadKey("not an Ed25519 public key")),
        };
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| SignatureError::BadKey("not an Ed25519 public key"))?;
        Self::from_bytes(&bytes)
    }

    /// From the 32 raw key bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, SignatureError> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| SignatureError::BadKey("invalid Ed25519 point"))
    }

    /// Checks a base64 signature over `raw_body`.
    pub fn verify(&self, raw_body: &[u8], signature_b64: &str) -> Result<(), SignatureError> {
        let sig = decode_signature(signature_b64)?;
        let sig = Signature::from_slice(&sig)
            .map_err(|_| SignatureError::Malformed("Ed25519 signatures are 64 bytes"))?;
        self.0
            .verify_strict(raw_body, &sig)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// An RSA public key, held as PKCS#1 `RSAPublicKey` DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    pkcs1: Vec<u8>,
    modulus_bits: usize,
}

impl RsaPublicKey {
    /// Parses a `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS#1) PEM, or
    /// base64 of either DER.
    pub fn parse(pem: &str) -> Result<Self, SignatureError> {
        let der = decode_key_text(pem)?;
        let pkcs1 = spki_to_pkcs1(&der).or_else(|err| {
            // Maybe it is PKCS#1 already.
            rsa_modulus_bits(&der).map(|_| der.clone()).map_err(|_| err)
        })?;
        let modulus_bits = rsa_modulus_bits(&pkcs1)?;
        if !(2048..=8192).contains(&modulus_bits) {
            return Err(SignatureError::BadKey(
                "RSA modulus must be 2048 to 8192 bits",
            ));
        }
        Ok(Self {
            pkcs1,
            modulus_bits,
        })
    }

    /// Size of the modulus in bits.
    pub fn modulus_bits(&self) -> usize {
        self.modulus_bits
    }

    /// Checks a base64 RSASSA-PKCS1-v1_5 SHA-256 signature over `raw_body`.
    pub fn verify(&self, raw_body: &[u8], signature_b64: &str) -> Result<(), SignatureError> {
        let sig = decode_signature(signature_b64)?;
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.pkcs1,
        )
        .verify(raw_body, &sig)
        .map_err(|_| SignatureError::Invalid)
    }
}

/// Reads one DER TLV: `(tag, contents, rest)`.
fn der_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), SignatureError> {
    const BAD: SignatureError = SignatureError::BadKey("malformed DER");
    let (&tag, rest) = input.split_first().ok_or(BAD)?;
    let (&first, mut rest) = rest.split_first().ok_or(BAD)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(BAD);
        }
        let (bytes, tail) = rest.split_at(count);
        rest = tail;
        bytes
            .iter()
            .fold(0_usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if rest.len() < len {
        return Err(BAD);
    }
    let (contents, rest) = rest.split_at(len);
    Ok((tag, contents, rest))
}

fn expect_tlv(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), SignatureError> {
    let (found, contents, rest) = der_tlv(input)?;
    if found == tag {
        Ok((contents, rest))
    } else {
        Err(SignatureError::BadKey("unexpected DER structure"))
    }
}

/// Extracts the PKCS#1 `RSAPublicKey` from an rsaEncryption SubjectPublicKeyInfo.
fn spki_to_pkcs1(der: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let (spki, trailing) = expect_tlv(der, TAG_SEQUENCE)?;
    if !trailing.is_empty() {
        return Err(SignatureError::BadKey("trailing bytes after key"));
    }
    let (algorithm, rest) = expect_tlv(spki, TAG_SEQUENCE)?;
    let (oid, params) = expect_tlv(algorithm, TAG_OID)?;
    if oid != RSA_ENCRYPTION_OID {
        return Err(SignatureError::BadKey("not an RSA key"));
    }
    if !params.is_empty() {
        let (null, after) = expect_tlv(params, TAG_NULL)?;
        if !null.is_empty() || !after.is_empty() {
            return Err(SignatureError::BadKey("unexpected RSA parameters"));
        }
    }
    let (bits, rest) = expect_tlv(rest, TAG_BIT_STRING)?;
    if !rest.is_empty() {
        return Err(SignatureError::BadKey("trailing bytes in key"));
    }
    match bits.split_first() {
        Some((0, key)) => Ok(key.to_vec()),
        _ => Err(SignatureError::BadKey("bad BIT STRING")),
    }
}

/// Checks `SEQUENCE { INTEGER n, INTEGER e }` and returns the size of `n` in bits.
fn rsa_modulus_bits(pkcs1: &[u8]) -> Result<usize, SignatureError> {
    let (seq, trailing) = expect_tlv(pkcs1, TAG_SEQUENCE)?;
    if !trailing.is_empty() {
        return Err(SignatureError::BadKey("trailing bytes after RSA key"));
    }
    let (n, rest) = expect_tlv(seq, TAG_INTEGER)?;
    let (e, rest) = expect_tlv(rest, TAG_INTEGER)?;
    if !rest.is_empty() || e.is_empty() {
        return Err(SignatureError::BadKey("bad RSAPublicKey"));
    }
    let n = match n.iter().position(|&b| b != 0) {
        Some(start) => &n[start..],
        None => return Err(SignatureError::BadKey("zero modulus")),
    };
    Ok(n.len() * 8 - n[0].leading_zeros() as usize)
}

/// Verifies an Ed25519 `X-GHL-Signature` with a PEM or base64 public key.
pub fn verify_ed25519(
    public_key_pem_or_base64: &str,
    raw_body: &[u8],
    signature_b64: &str,
) -> Result<(), SignatureError> {
    Ed25519PublicKey::parse(public_key_pem_or_base64)?.verify(raw_body, signature_b64)
}

/// Verifies an RSA-SHA256 `X-WH-Signature` with a SubjectPublicKeyInfo PEM.
pub fn verify_rsa_sha256(
    spki_pem: &str,
    raw_body: &[u8],
    signature_b64: &str,
) -> Result<(), SignatureError> {
    RsaPublicKey::parse(spki_pem)?.verify(raw_body, signature_b64)
}

/// Verifies GHL webhooks with the configured keys (see the module docs for the rule).
#[derive(Debug, Clone, Default)]
pub struct WebhookVerifier {
    /// Key for `X-GHL-Signature`.
    pub ed25519: Option<Ed25519PublicKey>,
    /// Key for `X-WH-Signature`.
    pub rsa: Option<RsaPublicKey>,
}

impl WebhookVerifier {
    /// A verifier with the given keys.
    pub fn new(ed25519: Option<Ed25519PublicKey>, rsa: Option<RsaPublicKey>) -> Self {
        Self { ed25519, rsa }
    }

    /// A verifier with HighLevel's published production keys.
    pub fn ghl() -> Self {
        // Constant, valid keys: parsing cannot fail (a unit test checks it).
        Self {
            ed25519: Some(
                Ed25519PublicKey::parse(GHL_ED25519_PUBLIC_KEY_PEM).expect("valid GHL Ed25519 key"),
            ),
            rsa: Some(RsaPublicKey::parse(GHL_RSA_PUBLIC_KEY_PEM).expect("valid GHL RSA key")),
        }
    }

    /// Verifies a request given its headers and raw body.
    pub fn verify(&self, headers: &HeaderMap, raw_body: &[u8]) -> Result<SignedBy, SignatureError> {
        self.verify_with(
            |name| headers.get(name).and_then(|v| v.to_str().ok()),
            raw_body,
        )
    }

    /// Verifies a request through a header lookup (called with lower-case names).
    pub fn verify_with<'a>(
        &self,
        header: impl Fn(&str) -> Option<&'a str>,
        raw_body: &[u8],
    ) -> Result<SignedBy, SignatureError> {
        if let Some(signature) = header(HEADER_GHL_SIGNATURE) {
            let key = self
                .ed25519
                .as_ref()
                .ok_or(SignatureError::KeyNotConfigured("Ed25519"))?;
            key.verify(raw_body, signature)?;
            return Ok(SignedBy::Ed25519);
        }
        if let Some(signature) = header(HEADER_WH_SIGNATURE) {
            let key = self
                .rsa
                .as_ref()
                .ok_or(SignatureError::KeyNotConfigured("RSA"))?;
            key.verify(raw_body, signature)?;
            return Ok(SignedBy::Rsa);
        }
        Err(SignatureError::Missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use reqwest::header::HeaderValue;

    const TEST_RSA_PUBLIC_PEM: &str = include_str!("../tests/fixtures/rsa_test_public.pem");
    const TEST_RSA_PRIVATE_PKCS8: &[u8] =
        include_bytes!("../tests/fixtures/rsa_test_private_pkcs8.der");
    const BODY: &[u8] = br#"{"type":"ContactCreate","locationId":"L1","id":"c1","webhookId":"w1"}"#;

    fn ed_key() -> SigningKey {
        SigningKey::from_bytes(&[7_u8; 32])
    }

    fn ed_pem(key: &SigningKey) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(key.verifying_key().as_bytes());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        )
    }

    fn ed_sign(key: &SigningKey, body: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(key.sign(body).to_bytes())
    }

    fn rsa_sign(body: &[u8]) -> String {
        let pair = ring::signature::RsaKeyPair::from_pkcs8(TEST_RSA_PRIVATE_PKCS8).unwrap();
        let mut sig = vec![0_u8; pair.public().modulus_len()];
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            body,
            &mut sig,
        )
        .unwrap();
        base64::engine::general_purpose::STANDARD.encode(sig)
    }

    #[test]
    fn ed25519_valid_tampered_missing() {
        let key = ed_key();
        let pem = ed_pem(&key);
        let sig = ed_sign(&key, BODY);
        assert_eq!(verify_ed25519(&pem, BODY, &sig), Ok(()));
        // Raw 32-byte base64 key works too, and unpadded signatures.
        let raw = base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes());
        assert_eq!(
            verify_ed25519(&raw, BODY, sig.trim_end_matches('=')),
            Ok(())
        );
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            verify_ed25519(&pem, &tampered, &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(verify_ed25519(&pem, BODY, ""), Err(SignatureError::Missing));
        assert!(matches!(
            verify_ed25519(&pem, BODY, "!!notbase64"),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify_ed25519(&pem, BODY, "AAAA"),
            Err(SignatureError::Malformed(_))
        ));
        // Someone else's key.
        assert_eq!(
            verify_ed25519(GHL_ED25519_PUBLIC_KEY_PEM, BODY, &sig),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn rsa_valid_tampered_wrong_key() {
        let sig = rsa_sign(BODY);
        assert_eq!(verify_rsa_sha256(TEST_RSA_PUBLIC_PEM, BODY, &sig), Ok(()));
        assert_eq!(
            verify_rsa_sha256(TEST_RSA_PUBLIC_PEM, b"{\"type\":\"ContactDelete\"}", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify_rsa_sha256(GHL_RSA_PUBLIC_KEY_PEM, BODY, &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            RsaPublicKey::parse(TEST_RSA_PUBLIC_PEM)
                .unwrap()
                .modulus_bits(),
            2048
        );
    }

    #[test]
    fn published_keys_parse_and_reject_bogus_signatures() {
        let rsa = RsaPublicKey::parse(GHL_RSA_PUBLIC_KEY_PEM).unwrap();
        assert_eq!(rsa.modulus_bits(), 4096);
        let bogus = base64::engine::general_purpose::STANDARD.encode([0x5a_u8; 512]);
        assert_eq!(rsa.verify(BODY, &bogus), Err(SignatureError::Invalid));
        let ed = Ed25519PublicKey::parse(GHL_ED25519_PUBLIC_KEY_PEM).unwrap();
        let bogus = base64::engine::general_purpose::STANDARD.encode([1_u8; 64]);
        assert_eq!(ed.verify(BODY, &bogus), Err(SignatureError::Invalid));
        let _ = WebhookVerifier::ghl();
        // An Ed25519 key is not an RSA key and vice versa.
        assert!(RsaPublicKey::parse(GHL_ED25519_PUBLIC_KEY_PEM).is_err());
        assert!(Ed25519PublicKey::parse(GHL_RSA_PUBLIC_KEY_PEM).is_err());
    }

    #[test]
    fn verifier_follows_the_sdk_rule() {
        let key = ed_key();
        let verifier = WebhookVerifier::new(
            Some(Ed25519PublicKey::parse(&ed_pem(&key)).unwrap()),
            Some(RsaPublicKey::parse(TEST_RSA_PUBLIC_PEM).unwrap()),
        );
        let rsa_sig = rsa_sign(BODY);
        let ed_sig = ed_sign(&key, BODY);

        let mut headers = HeaderMap::new();
        assert_eq!(
            verifier.verify(&headers, BODY),
            Err(SignatureError::Missing)
        );

        headers.insert("X-WH-Signature", HeaderValue::from_str(&rsa_sig).unwrap());
        assert_eq!(verifier.verify(&headers, BODY), Ok(SignedBy::Rsa));

        // With X-GHL-Signature present, only Ed25519 counts: a bad one is not rescued.
        headers.insert("X-GHL-Signature", HeaderValue::from_static("AAAA"));
        assert!(verifier.verify(&headers, BODY).is_err());
        headers.insert(
            "X-GHL-Signature",
            HeaderValue::from_str(&ed_sign(&key, b"x")).unwrap(),
        );
        assert_eq!(
            verifier.verify(&headers, BODY),
            Err(SignatureError::Invalid)
        );
        headers.insert("X-GHL-Signature", HeaderValue::from_str(&ed_sig).unwrap());
        assert_eq!(verifier.verify(&headers, BODY), Ok(SignedBy::Ed25519));

        let rsa_only = WebhookVerifier::new(None, verifier.rsa);
        assert_eq!(
            rsa_only.verify(&headers, BODY),
            Err(SignatureError::KeyNotConfigured("Ed25519"))
        );
        let lookup = |name: &str| (name == HEADER_WH_SIGNATURE).then_some(rsa_sig.as_str());
        assert_eq!(rsa_only.verify_with(lookup, BODY), Ok(SignedBy::Rsa));
    }

    #[test]
    fn der_walker_rejects_garbage() {
        assert!(
            RsaPublicKey::parse("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .is_err()
        );
        assert!(spki_to_pkcs1(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(RsaPublicKey::parse("not base64 !!").is_err());
    }
}

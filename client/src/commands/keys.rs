//! `sealwax keys generate | register | import | list | revoke | rotate | vouch`.

use std::path::{Path, PathBuf};

use serde_json::json;

use sealwax_proto::entry::{
    validate_publisher, Entry, KeyRegistration, KeyRevocation, RevocationReason,
};
use sealwax_proto::error::Rejection;
use sealwax_proto::minisign::{PublicKey, SecretKey};

use crate::api::LogClient;
use crate::atomic::{write_atomic, MODE_PUBLIC, MODE_SECRET};
use crate::checkpoints::CheckpointTracker;
use crate::cli::{GenerateArgs, ImportArgs, RegisterArgs, RevokeArgs, RotateArgs, VouchArgs};
use crate::commands::{read_admin_token, submit_entry, Ctx};
use crate::error::{open_named, ClientError, Result};
use crate::history::fetch_history;
use crate::home::LogIdentity;
use crate::keyring::Revoked;
use crate::keyring::{load_secret_key, read_public_key, OwnKey, OwnKeys};
use crate::trust::TrustSource;
use sealwax_proto::keys::{KeyStanding, PublisherKeys};
use sealwax_proto::Hash;

/// What authorises a new key.
enum Authoriser {
    /// The publisher's first key.
    Claim,
    /// An active key of the publisher held by this home.
    Chain(Box<SecretKey>),
    /// The log operator, with this admin token.
    Operator(zeroize::Zeroizing<String>),
}

/// The public key given as `KEY|FILE`: its base64 line or a file. An
/// argument that is neither, and cannot be a key line (it holds a `.`, or
/// does not start with `RW` as every Minisign key line does), is
/// [`ClientError::NoSuchFile`] rather than a malformed key.
fn public_key_arg(arg: &str, action: &'static str) -> Result<PublicKey> {
    read_public_key(arg).map_err(|e| {
        let path_like = arg.contains('.') || !arg.starts_with("RW");
        if path_like && !Path::new(arg).exists() {
            ClientError::NoSuchFile {
                path: PathBuf::from(arg),
                what: "public key",
                action,
            }
        } else {
            e
        }
    })
}

/// Whether `arg` reads as a key ID: 16 hex digits, as `sealwax` prints them.
fn is_key_id(arg: &str) -> bool {
    arg.len() == 16 && arg.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The public key `arg` names: its key ID (of exactly one key this home
/// knows in `log`, its own or trusted), its base64 line, or a `.pub` file.
fn key_arg(ctx: &Ctx, log: &LogIdentity, arg: &str, action: &'static str) -> Result<PublicKey> {
    if !is_key_id(arg) || Path::new(arg).exists() {
        return public_key_arg(arg, action);
    }
    let own = ctx.own_keys(log)?;
    let trust = ctx.trust_store(log)?;
    let mut found: Vec<(PublicKey, &str)> = Vec::new();
    let known = own
        .keys
        .iter()
        .map(|k| (&k.key_id, &k.key, &k.publisher))
        .chain(trust.keys.iter().map(|k| (&k.key_id, &k.key, &k.publisher)));
    for (id, key, publisher) in known {
        let Ok(pk) = PublicKey::parse(key) else {
            continue;
        };
        if id.eq_ignore_ascii_case(arg) && !found.iter().any(|(k, _)| *k == pk) {
            found.push((pk, publisher));
        }
    }
    match found.as_slice() {
        [] => Err(ClientError::KeyIdUnknown {
            key_id: arg.to_ascii_uppercase(),
        }),
        [(pk, _)] => Ok(*pk),
        many => Err(ClientError::KeyIdAmbiguous {
            key_id: arg.to_ascii_uppercase(),
            keys: many
                .iter()
                .map(|(pk, p)| format!("{} (publisher {p:?})", pk.to_base64()))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn check_publisher(p: &str) -> Result<()> {
    validate_publisher(p).map_err(ClientError::InvalidName)
}

/// Picks how a new key of `publisher` gets authorised: the operator if a
/// token is given; a claim if the log knows no keys of the publisher; else
/// this home's current key of the publisher, if it is active in the log.
fn choose_authoriser(
    ctx: &Ctx,
    log: &LogIdentity,
    api: &LogClient,
    tracker: &mut CheckpointTracker,
    publisher: &str,
    admin_token_file: Option<&PathBuf>,
) -> Result<Authoriser> {
    if let Some(f) = admin_token_file {
        return Ok(Authoriser::Operator(read_admin_token(f)?));
    }
    let Some(history) = fetch_history(api, tracker, log, &ctx.key_states(log), publisher)? else {
        return Ok(Authoriser::Claim);
    };
    let own = ctx.own_keys(log)?;
    match newest_in_good_standing(&own, &history.keys, None) {
        Some(k) => Ok(Authoriser::Chain(Box::new(load_secret_key(
            &k.secret_file,
            &ctx.passwords,
        )?))),
        None => Err(ClientError::NoKeyToChain {
            taken: Rejection::NameTaken(publisher.to_string()).to_string(),
            publisher: publisher.to_string(),
            advice: recovery_advice(&own, &history.keys, None),
        }),
    }
}

/// How to sign for the publisher of `keys` again when key `bad` (or, with
/// none, every key this home holds) is out of good standing: the exact
/// commands, from a key in good standing of this home, another home, or
/// the log operator.
pub fn recovery_advice(own: &OwnKeys, keys: &PublisherKeys, bad: Option<&PublicKey>) -> String {
    let p = &keys.publisher;
    let bad_hash = bad.map(PublicKey::key_hash);
    let suspended = bad.filter(|pk| {
        keys.key(&pk.key_hash())
            .is_some_and(|r| matches!(r.standing(), KeyStanding::Suspended(_)))
    });
    match newest_in_good_standing(own, keys, bad_hash.as_ref()) {
        Some(good) => {
            let mut advice = format!(
                "Make a new key chained from your key {} in good standing: `sealwax keys generate --publisher {p}`",
                good.key_id
            );
            if let Some(pk) = suspended {
                advice.push_str(&format!(
                    "; or, if key {id} was not stolen, vouch for it again: `sealwax keys vouch {id}`",
                    id = pk.key_id_hex()
                ));
            }
            advice
        }
        None => {
            let mut advice = format!(
                "This home holds no key of {p:?} in good standing. From a home that holds one, run `sealwax keys generate --publisher {p}` there (the new key is chained from it); if none is left, ask the log's operator, who registers a new key with their admin token: `sealwax keys generate --publisher {p} --admin-token-file TOKEN`"
            );
            if let Some(pk) = suspended {
                advice.push_str(&format!(
                    ", or vouches for key {id} again if it was not stolen: `sealwax keys vouch {id} --admin-token-file TOKEN`",
                    id = pk.key_id_hex()
                ));
            }
            advice
        }
    }
}

/// This home's newest key of the publisher of `keys` that is in good
/// standing in the log, other than `except`.
fn newest_in_good_standing<'a>(
    own: &'a OwnKeys,
    keys: &PublisherKeys,
    except: Option<&Hash>,
) -> Option<&'a OwnKey> {
    own.keys
        .iter()
        .filter(|k| k.publisher == keys.publisher && k.revoked.is_none())
        .filter(|k| except.is_none_or(|h| k.key_hash != hex::encode(h)))
        .filter(|k| {
            PublicKey::parse(&k.key)
                .ok()
                .and_then(|pk| keys.key(&pk.key_hash()))
                .is_some_and(|r| r.in_good_standing())
        })
        .max_by_key(|k| k.registered_at)
}

/// What a command that registers a key of one publisher works with: the
/// log, its client and the checkpoint tracker.
struct Registrar<'a> {
    ctx: &'a Ctx,
    log: LogIdentity,
    api: LogClient,
    tracker: CheckpointTracker,
    publisher: String,
}

impl<'a> Registrar<'a> {
    /// Checks the publisher's name and opens the log for it.
    fn open(ctx: &'a Ctx, publisher: &str) -> Result<Registrar<'a>> {
        check_publisher(publisher)?;
        let log = ctx.log()?;
        let api = ctx.api()?;
        let tracker = ctx.tracker(&log)?;
        Ok(Registrar {
            ctx,
            log,
            api,
            tracker,
            publisher: publisher.to_string(),
        })
    }

    /// How a new key gets authorised ([`choose_authoriser`]).
    fn authoriser(&mut self, admin_token_file: Option<&PathBuf>) -> Result<Authoriser> {
        choose_authoriser(
            self.ctx,
            &self.log,
            &self.api,
            &mut self.tracker,
            &self.publisher,
            admin_token_file,
        )
    }
}

/// Registers `sk` for the registrar's publisher, records it as this home's
/// own key and as trusted, and returns the JSON description.
fn register_key(
    r: &mut Registrar<'_>,
    sk: &SecretKey,
    public_file: &Path,
    secret_file: &Path,
    authoriser: Authoriser,
) -> Result<serde_json::Value> {
    let (ctx, log, api, tracker) = (r.ctx, &r.log, &r.api, &mut r.tracker);
    let publisher = r.publisher.as_str();
    let reg = match &authoriser {
        Authoriser::Claim => KeyRegistration::claim(&log.origin, publisher, sk),
        Authoriser::Chain(by) => KeyRegistration::chain(&log.origin, publisher, sk, by),
        Authoriser::Operator(_) => KeyRegistration::operator(&log.origin, publisher, sk),
    }
    .map_err(ClientError::InvalidName)?;
    let kind = reg.authorization.kind();
    let token = match &authoriser {
        Authoriser::Operator(t) => Some(t.as_str()),
        _ => None,
    };
    let logged = submit_entry(
        ctx,
        api,
        tracker,
        "key registration",
        &Entry::KeyRegistration(reg),
        token,
    )?;
    let pk = sk.public_key();
    let mut own = ctx.own_keys(log)?;
    own.record(publisher, &pk, public_file, secret_file, logged.index, kind);
    own.save()?;
    let mut trust = ctx.trust_store(log)?;
    trust.add(publisher, &pk, TrustSource::Own, None);
    trust.save()?;
    let by = match &authoriser {
        Authoriser::Chain(by) => format!(", authorised by key {}", by.public_key().key_id_hex()),
        Authoriser::Operator(_) => ", through the log operator".to_string(),
        Authoriser::Claim => format!(", claiming the name {publisher:?}"),
    };
    ctx.say(format_args!(
        "Registered key {} for publisher {publisher:?} at log index {}{by}{}",
        pk.key_id_hex(),
        logged.index,
        if logged.duplicate {
            " (it was already logged)"
        } else {
            ""
        }
    ));
    Ok(json!({
        "publisher": publisher,
        "key": pk.to_base64(),
        "key_id": pk.key_id_hex(),
        "key_hash": hex::encode(pk.key_hash()),
        "index": logged.index,
        "authorization": kind,
        "public_file": public_file,
        "secret_file": secret_file,
    }))
}

/// Writes a new key pair into `dir` as `<publisher>-<KEYID>.pub` / `.key`.
fn write_new_key_pair(
    ctx: &Ctx,
    dir: &Path,
    publisher: &str,
    without_password: bool,
) -> Result<(SecretKey, PathBuf, PathBuf)> {
    let sk = SecretKey::generate(&mut rand::rngs::OsRng);
    let pk = sk.public_key();
    let stem = format!("{publisher}-{}", pk.key_id_hex());
    let public_file = crate::keyring::absolute(&dir.join(format!("{stem}.pub")));
    let secret_file = crate::keyring::absolute(&dir.join(format!("{stem}.key")));
    for f in [&public_file, &secret_file] {
        if f.exists() {
            return Err(ClientError::KeyFileExists(f.clone()));
        }
    }
    let password = if without_password {
        None
    } else {
        Some(ctx.passwords.new_password(&secret_file)?)
    };
    let text = zeroize::Zeroizing::new(sk.to_file_string(
        password.as_ref().map(|p| p.as_bytes()),
        &mut rand::rngs::OsRng,
    ));
    write_atomic(&secret_file, text.as_bytes(), MODE_SECRET)?;
    write_atomic(&public_file, pk.to_file_string().as_bytes(), MODE_PUBLIC)?;
    ctx.say(format_args!(
        "Wrote key pair {}\n  public: {}\n  secret: {}{}",
        pk.key_id_hex(),
        public_file.display(),
        secret_file.display(),
        if without_password {
            " (not encrypted)"
        } else {
            ""
        }
    ));
    Ok((sk, public_file, secret_file))
}

fn registration_hint(public_file: &Path, secret_file: &Path, publisher: &str) {
    eprintln!(
        "The key pair is kept; register it later with:\n  sealwax keys register --public {} --private {} --publisher {publisher}",
        public_file.display(),
        secret_file.display()
    );
}

/// `keys generate`.
pub fn generate(ctx: &Ctx, args: GenerateArgs) -> Result<serde_json::Value> {
    let mut r = Registrar::open(ctx, &args.publisher)?;
    let authoriser = r.authoriser(args.admin_token_file.as_ref())?;
    let dir = args.dir.clone().unwrap_or_else(|| ctx.home.keys_dir());
    let (sk, public_file, secret_file) =
        write_new_key_pair(ctx, &dir, &args.publisher, args.without_password)?;
    register_key(&mut r, &sk, &public_file, &secret_file, authoriser)
        .inspect_err(|_| registration_hint(&public_file, &secret_file, &args.publisher))
}

/// `keys register`.
pub fn register(ctx: &Ctx, args: RegisterArgs) -> Result<serde_json::Value> {
    check_publisher(&args.publisher)?;
    open_named(&args.public, "public key", "register")?;
    open_named(&args.private, "secret key", "register")?;
    let pk = read_public_key(&args.public.to_string_lossy())?;
    let sk = load_secret_key(&args.private, &ctx.passwords)?;
    if sk.public_key() != pk {
        return Err(ClientError::KeyPairMismatch {
            secret: args.private.clone(),
            public: args.public.clone(),
        });
    }
    let mut r = Registrar::open(ctx, &args.publisher)?;
    let authoriser = r.authoriser(args.admin_token_file.as_ref())?;
    register_key(
        &mut r,
        &sk,
        &crate::keyring::absolute(&args.public),
        &crate::keyring::absolute(&args.private),
        authoriser,
    )
}

/// `keys import`.
pub fn import(ctx: &Ctx, args: ImportArgs) -> Result<serde_json::Value> {
    check_publisher(&args.publisher)?;
    let log = ctx.log()?;
    let pk = public_key_arg(&args.key, "import")?;
    let mut trust = ctx.trust_store(&log)?;
    if let Some(other) = trust.find_any(&pk.key_hash()) {
        if other.publisher != args.publisher {
            ctx.warn(format_args!(
                "key {} is already trusted for publisher {:?}; a key belongs to one publisher in the log, so only one of the two can be right",
                pk.key_id_hex(),
                other.publisher
            ));
        }
    }
    let added = trust.add(&args.publisher, &pk, TrustSource::Import, None);
    trust.save()?;
    ctx.say(format_args!(
        "Importing key \"{}\" for user \"{}\"{}",
        pk.key_id_hex(),
        args.publisher,
        if added {
            ""
        } else {
            " (it was already trusted)"
        }
    ));
    Ok(json!({
        "publisher": args.publisher,
        "key": pk.to_base64(),
        "key_id": pk.key_id_hex(),
        "key_hash": hex::encode(pk.key_hash()),
        "added": added,
    }))
}

/// `keys list`.
pub fn list(ctx: &Ctx) -> Result<serde_json::Value> {
    let log = ctx.log()?;
    let own = ctx.own_keys(&log)?;
    let trust = ctx.trust_store(&log)?;
    if !ctx.json {
        ctx.say(format_args!("Log {} (key {})", log.origin, log.verifier));
        ctx.say("\nYour keys:");
        if own.keys.is_empty() {
            ctx.say("  (none: `sealwax keys generate --publisher P` makes one)");
        }
        for k in &own.keys {
            let status = match &k.revoked {
                None => "active".to_string(),
                Some(r) => format!("{} at index {}", r.reason, r.index),
            };
            ctx.say(format_args!(
                "  {:<16} {:<20} {}  index {}  {}  {}",
                k.key_id,
                k.publisher,
                k.authorization,
                k.registered_at,
                status,
                k.secret_file.display()
            ));
        }
        ctx.say("\nTrusted keys:");
        if trust.keys.is_empty() {
            ctx.say("  (none yet: installing asks, `sealwax keys import` adds by hand)");
        }
        let states = ctx.key_states(&log);
        for k in &trust.keys {
            let standing = states.load(&k.publisher).ok().flatten().and_then(|r| {
                let h = k.public_key()?.key_hash();
                r.keys.key(&h).map(|rec| rec.standing())
            });
            let status = match standing {
                None | Some(KeyStanding::Active) => String::new(),
                Some(KeyStanding::Retired(i)) => format!("  retired at index {i}"),
                Some(KeyStanding::Compromised(i)) => format!("  compromised at index {i}"),
                Some(KeyStanding::Suspended(s)) => format!(
                    "  suspended (its chain passes through a key compromised at index {})",
                    s.at
                ),
            };
            ctx.say(format_args!(
                "  {:<16} {:<20} {:<7} {}{}",
                k.key_id,
                k.publisher,
                k.source.as_str(),
                k.key,
                status
            ));
        }
    }
    Ok(json!({
        "origin": log.origin,
        "own_keys": serde_json::to_value(&own.keys).expect("serialises"),
        "trusted_keys": serde_json::to_value(&trust.keys).expect("serialises"),
    }))
}

/// `keys revoke`.
pub fn revoke(ctx: &Ctx, args: RevokeArgs) -> Result<serde_json::Value> {
    let log = ctx.log()?;
    let api = ctx.api()?;
    let pk = key_arg(ctx, &log, &args.key, "revoke")?;
    let h = pk.key_hash();
    let mut own = ctx.own_keys(&log)?;
    let trust = ctx.trust_store(&log)?;
    let publisher = match &args.publisher {
        Some(p) => p.clone(),
        None => own
            .find(&h)
            .map(|k| k.publisher.clone())
            .or_else(|| trust.find_any(&h).map(|k| k.publisher.clone()))
            .ok_or_else(|| ClientError::PublisherUnknownForKey {
                key_id: pk.key_id_hex(),
            })?,
    };
    check_publisher(&publisher)?;
    let reason = if args.compromised {
        RevocationReason::Compromised
    } else {
        RevocationReason::Retired
    };
    let (revocation, token, by) = if let Some(f) = &args.admin_token_file {
        let token = read_admin_token(f)?;
        let r =
            KeyRevocation::by_operator(&publisher, pk, reason).map_err(ClientError::InvalidName)?;
        (r, Some(token), "the log operator".to_string())
    } else {
        let authoriser = authoriser_for_revocation(ctx, &own, &publisher, &pk)?;
        let by = if authoriser.public_key() == pk {
            "the key itself".to_string()
        } else {
            format!("key {}", authoriser.public_key().key_id_hex())
        };
        let r = KeyRevocation::by_key(&log.origin, &publisher, pk, reason, &authoriser)
            .map_err(ClientError::InvalidName)?;
        (r, None, by)
    };
    let mut tracker = ctx.tracker(&log)?;
    let logged = submit_entry(
        ctx,
        &api,
        &mut tracker,
        "key revocation",
        &Entry::KeyRevocation(revocation),
        token.as_ref().map(|t| t.as_str()),
    )?;
    let revoked = Revoked {
        reason: reason.as_str().to_string(),
        index: logged.index,
    };
    own.mark_revoked(&h, revoked);
    own.save()?;
    ctx.say(format_args!(
        "Revoked key {} of publisher {publisher:?} as {reason} at log index {} (signed by {by})",
        pk.key_id_hex(),
        logged.index
    ));
    if reason == RevocationReason::Compromised {
        ctx.say("No signature by this key will be trusted any more, not even earlier ones.");
    }
    Ok(json!({
        "publisher": publisher,
        "key_id": pk.key_id_hex(),
        "key_hash": hex::encode(h),
        "reason": reason.as_str(),
        "index": logged.index,
    }))
}

/// The key that signs a revocation of `pk`: `pk` itself if its secret is
/// in this home, else this home's newest other active key of the publisher.
fn authoriser_for_revocation(
    ctx: &Ctx,
    own: &OwnKeys,
    publisher: &str,
    pk: &PublicKey,
) -> Result<SecretKey> {
    if let Some(k) = own.find(&pk.key_hash()) {
        if k.secret_file.is_file() {
            return load_secret_key(&k.secret_file, &ctx.passwords);
        }
    }
    let other = own
        .keys
        .iter()
        .filter(|k| k.publisher == publisher && k.revoked.is_none())
        .filter(|k| k.key_hash != hex::encode(pk.key_hash()))
        .max_by_key(|k| k.registered_at)
        .ok_or_else(|| ClientError::NoSigningKey {
            publisher: publisher.to_string(),
        })?;
    load_secret_key(&other.secret_file, &ctx.passwords)
}

/// `keys rotate`.
pub fn rotate(ctx: &Ctx, args: RotateArgs) -> Result<serde_json::Value> {
    let mut reg = Registrar::open(ctx, &args.publisher)?;
    let own = ctx.own_keys(&reg.log)?;
    let current = own
        .current(&args.publisher)
        .ok_or_else(|| ClientError::NoSigningKey {
            publisher: args.publisher.clone(),
        })?
        .clone();
    let old_sk = load_secret_key(&current.secret_file, &ctx.passwords)?;
    let dir = args.dir.clone().unwrap_or_else(|| ctx.home.keys_dir());
    let (new_sk, public_file, secret_file) =
        write_new_key_pair(ctx, &dir, &args.publisher, args.without_password)?;
    let old_pk = old_sk.public_key();
    let chain = Authoriser::Chain(Box::new(old_sk));
    let mut out = register_key(&mut reg, &new_sk, &public_file, &secret_file, chain)
        .inspect_err(|_| registration_hint(&public_file, &secret_file, &args.publisher))?;
    let Registrar {
        log,
        api,
        mut tracker,
        ..
    } = reg;
    if args.retire_old {
        let r = KeyRevocation::by_key(
            &log.origin,
            &args.publisher,
            old_pk,
            RevocationReason::Retired,
            &new_sk,
        )
        .map_err(ClientError::InvalidName)?;
        let logged = submit_entry(
            ctx,
            &api,
            &mut tracker,
            "key revocation",
            &Entry::KeyRevocation(r),
            None,
        )?;
        let mut own = ctx.own_keys(&log)?;
        own.mark_revoked(
            &old_pk.key_hash(),
            Revoked {
                reason: RevocationReason::Retired.as_str().into(),
                index: logged.index,
            },
        );
        own.save()?;
        ctx.say(format_args!(
            "Retired the old key {} at log index {}",
            old_pk.key_id_hex(),
            logged.index
        ));
        out["retired"] = json!({ "key_id": old_pk.key_id_hex(), "index": logged.index });
    }
    Ok(out)
}

/// The publisher's key state, proven, if `pk` is suspended in it (and not
/// revoked); else why it cannot be vouched for.
fn suspended_in(
    keys: Option<PublisherKeys>,
    pk: &PublicKey,
    publisher: &str,
) -> Result<PublisherKeys> {
    let not_suspended = |standing: &'static str, hint: &'static str| ClientError::NotSuspended {
        key_id: pk.key_id_hex(),
        publisher: publisher.to_string(),
        standing,
        hint,
    };
    let Some(rec) = keys.as_ref().and_then(|k| k.key(&pk.key_hash())) else {
        return Err(not_suspended(
            "unregistered",
            ": register it with `sealwax keys register`",
        ));
    };
    if rec.suspended.is_none() || rec.is_revoked() {
        return Err(match rec.standing() {
            KeyStanding::Active => not_suspended("active", ": it may sign as it is"),
            KeyStanding::Retired(_) => not_suspended(
                "retired",
                "; a revoked key stays revoked: make a new one with `sealwax keys rotate`",
            ),
            _ => not_suspended(
                "compromised",
                "; a revoked key stays revoked: make a new one with `sealwax keys rotate`",
            ),
        });
    }
    Ok(keys.expect("a key was found"))
}

/// The re-vouching of `sk`, its admin token if the operator signs it, and
/// who vouched (for messages): the operator with `--admin-token-file`, else
/// this home's newest key of the publisher in good standing.
fn revouching(
    ctx: &Ctx,
    log: &LogIdentity,
    args: &VouchArgs,
    own: &OwnKeys,
    keys: &PublisherKeys,
    sk: &SecretKey,
) -> Result<(KeyRegistration, Option<zeroize::Zeroizing<String>>, String)> {
    let publisher = &keys.publisher;
    if let Some(f) = &args.admin_token_file {
        let token = read_admin_token(f)?;
        let reg = KeyRegistration::operator(&log.origin, publisher, sk)
            .map_err(ClientError::InvalidName)?;
        return Ok((reg, Some(token), "the log operator".to_string()));
    }
    let h = sk.public_key().key_hash();
    let voucher =
        newest_in_good_standing(own, keys, Some(&h)).ok_or_else(|| ClientError::LogRefused {
            what: "re-vouching",
            message: format!(
                "this home holds no key of {publisher:?} in good standing to vouch for key {}: \
                 vouch from the home that has one, or ask the log operator (--admin-token-file)",
                sk.public_key().key_id_hex()
            ),
        })?;
    let by_sk = load_secret_key(&voucher.secret_file, &ctx.passwords)?;
    let by = format!("key {}", by_sk.public_key().key_id_hex());
    let reg = KeyRegistration::chain(&log.origin, publisher, sk, &by_sk)
        .map_err(ClientError::InvalidName)?;
    Ok((reg, None, by))
}

/// `keys vouch`: a registration of a suspended key, signed by the key and
/// by a key of the publisher in good standing (or by the operator).
pub fn vouch(ctx: &Ctx, args: VouchArgs) -> Result<serde_json::Value> {
    let log = ctx.log()?;
    let api = ctx.api()?;
    let pk = key_arg(ctx, &log, &args.key, "vouch for")?;
    let h = pk.key_hash();
    let own = ctx.own_keys(&log)?;
    let mine = own.find(&h);
    let publisher = match (&args.publisher, mine) {
        (Some(p), _) => p.clone(),
        (None, Some(k)) => k.publisher.clone(),
        (None, None) => {
            return Err(ClientError::PublisherUnknownForKey {
                key_id: pk.key_id_hex(),
            })
        }
    };
    check_publisher(&publisher)?;
    let secret_file = args
        .secret
        .clone()
        .or_else(|| mine.map(|k| k.secret_file.clone()))
        .ok_or_else(|| ClientError::NoSecretForKey {
            key_id: pk.key_id_hex(),
        })?;
    let sk = load_secret_key(&secret_file, &ctx.passwords)?;
    if sk.public_key() != pk {
        return Err(ClientError::KeyPairMismatch {
            secret: secret_file,
            public: args.key.clone().into(),
        });
    }
    let mut tracker = ctx.tracker(&log)?;
    let history = fetch_history(&api, &mut tracker, &log, &ctx.key_states(&log), &publisher)?;
    let keys = suspended_in(history.map(|h| h.keys), &pk, &publisher)?;
    let (reg, token, by) = revouching(ctx, &log, &args, &own, &keys, &sk)?;
    let authorization = reg.authorization.kind();
    let logged = submit_entry(
        ctx,
        &api,
        &mut tracker,
        "re-vouching",
        &Entry::KeyRegistration(reg),
        token.as_ref().map(|t| t.as_str()),
    )?;
    ctx.say(format_args!(
        "Vouched again for key {} of publisher {publisher:?} at log index {} (signed by {by}): its signatures are valid again",
        pk.key_id_hex(),
        logged.index
    ));
    Ok(json!({
        "publisher": publisher,
        "key_id": pk.key_id_hex(),
        "key_hash": hex::encode(h),
        "authorization": authorization,
        "index": logged.index,
    }))
}

//! Writes: random batches against a model (documents in a BTreeMap), indexes checked against the
//! documents by full scan after every batch, every refused batch leaving the root unchanged, and
//! each kind of bad write refused with its own typed error.

use std::collections::BTreeMap;

use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_db::testing::{all_documents, check_indexes, document, index_def, scalar};
use prolly_db::{
    Database, Error, FlatDocument, IndexDef, IndexField, Op, Order, Patch, Path, PreparedInserts,
    Refusal, WriteBatch,
};
use prolly_tree::{Config, Scalar};
use proptest::prelude::*;

fn new_db() -> Database<MemoryBlockstore> {
    let mut db =
        Database::create(MemoryBlockstore::default(), Config::with_targets(128, 128)).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("c");
    db.apply(&batch).unwrap().expect_complete();
    db
}

fn unique_index() -> IndexDef {
    IndexDef {
        name: "u".into(),
        fields: vec![IndexField {
            path: Path::parse("c").unwrap(),
            order: Order::Descending,
            each: false,
        }],
        unique: true,
        include: vec![],
    }
}

fn id_of(doc: &Ipld) -> i128 {
    match doc {
        Ipld::Map(m) => match m["_id"] {
            Ipld::Integer(i) => i,
            _ => unreachable!(),
        },
        _ => unreachable!(),
    }
}

#[derive(Debug, Clone)]
enum Action {
    Insert(Ipld),
    Upsert(Ipld),
    Delete(i128),
    Set(i128, &'static str, Ipld),
    Unset(i128, &'static str),
    Replace(i128, Ipld),
    CreateIndex(IndexDef),
    DropIndex(&'static str),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => document().prop_map(Action::Insert),
        4 => document().prop_map(Action::Upsert),
        2 => (0i128..40).prop_map(Action::Delete),
        2 => (0i128..40, prop::sample::select(vec!["a", "c", "n.x"]), scalar())
            .prop_map(|(id, p, v)| Action::Set(id, p, v)),
        1 => (0i128..40, prop::sample::select(vec!["a", "c", "n"])).prop_map(|(id, p)| Action::Unset(id, p)),
        1 => (0i128..40, document()).prop_map(|(id, d)| Action::Replace(id, d)),
        1 => index_def("i1").prop_map(Action::CreateIndex),
        1 => Just(Action::CreateIndex(unique_index())),
        1 => prop::sample::select(vec!["i1", "u"]).prop_map(Action::DropIndex),
    ]
}

/// The model: documents by id, and the index definitions.
#[derive(Clone, Default)]
struct Model {
    docs: BTreeMap<i128, Ipld>,
    indexes: BTreeMap<String, IndexDef>,
}

impl Model {
    /// Applies one action; `Err` when the database must refuse it.
    fn apply(&mut self, action: &Action) -> Result<(), ()> {
        match action {
            Action::Insert(doc) => {
                if self.docs.insert(id_of(doc), doc.clone()).is_some() {
                    return Err(());
                }
            }
            Action::Upsert(doc) => {
                self.docs.insert(id_of(doc), doc.clone());
            }
            Action::Delete(id) => {
                self.docs.remove(id);
            }
            Action::Set(id, path, value) => {
                let Some(Ipld::Map(doc)) = self.docs.get_mut(id) else {
                    return Err(());
                };
                if !Path::parse(path).unwrap().set(doc, value.clone()) {
                    return Err(());
                }
            }
            Action::Unset(id, path) => {
                let Some(Ipld::Map(doc)) = self.docs.get_mut(id) else {
                    return Err(());
                };
                Path::parse(path).unwrap().remove(doc);
            }
            Action::Replace(id, doc) => {
                let Some(old) = self.docs.get_mut(id) else {
                    return Err(());
                };
                let Ipld::Map(mut body) = doc.clone() else {
                    unreachable!()
                };
                body.insert("_id".into(), Ipld::Integer(*id));
                *old = Ipld::Map(body);
            }
            Action::CreateIndex(def) => {
                if self.indexes.insert(def.name.clone(), def.clone()).is_some() {
                    return Err(());
                }
            }
            Action::DropIndex(name) => {
                if self.indexes.remove(*name).is_none() {
                    return Err(());
                }
            }
        }
        self.check_unique()
    }

    /// Two documents with the same present, non-null `c` break index `u`.
    fn check_unique(&self) -> Result<(), ()> {
        if !self.indexes.contains_key("u") {
            return Ok(());
        }
        let mut seen = std::collections::BTreeSet::new();
        for doc in self.docs.values() {
            if let Some(c) = Path::parse("c").unwrap().get(doc)
                && *c != Ipld::Null
                && !seen.insert(prolly_db::encode_key([(c, Order::Ascending)]).unwrap())
            {
                return Err(());
            }
        }
        Ok(())
    }
}

fn to_op(action: &Action) -> Op {
    let c = "c".to_string();
    match action.clone() {
        Action::Insert(doc) => Op::Insert { collection: c, doc },
        Action::Upsert(doc) => Op::Upsert { collection: c, doc },
        Action::Delete(id) => Op::Delete {
            collection: c,
            id: Ipld::Integer(id),
        },
        Action::Set(id, path, value) => Op::Update {
            collection: c,
            id: Ipld::Integer(id),
            patch: Patch::Merge {
                set: vec![(Path::parse(path).unwrap(), value)],
                unset: vec![],
            },
        },
        Action::Unset(id, path) => Op::Update {
            collection: c,
            id: Ipld::Integer(id),
            patch: Patch::Merge {
                set: vec![],
                unset: vec![Path::parse(path).unwrap()],
            },
        },
        Action::Replace(id, doc) => {
            let Ipld::Map(mut body) = doc else {
                unreachable!()
            };
            body.remove("_id");
            Op::Update {
                collection: c,
                id: Ipld::Integer(id),
                patch: Patch::Replace(body),
            }
        }
        Action::CreateIndex(index) => Op::CreateIndex {
            collection: c,
            index,
        },
        Action::DropIndex(name) => Op::DropIndex {
            collection: c,
            name: name.into(),
        },
    }
}

proptest! {
    #[test]
    fn batches_keep_indexes_exact_and_refusals_write_nothing(
        batches in prop::collection::vec(prop::collection::vec(action(), 1..12), 1..8),
    ) {
        let mut db = new_db();
        let mut model = Model::default();
        for actions in batches {
            let mut next = model.clone();
            let expect_ok = actions.iter().all(|a| next.apply(a).is_ok());
            let batch = WriteBatch { ops: actions.iter().map(to_op).collect() };
            let before = db.root();
            match db.apply(&batch) {
                Ok(outcome) => {
                    outcome.expect_complete();
                    prop_assert!(expect_ok, "the database accepted a batch the model refuses: {:?}", actions);
                    model = next;
                }
                Err(Error::Write { .. }) => {
                    prop_assert!(!expect_ok, "the database refused a valid batch: {:?}", actions);
                    prop_assert_eq!(db.root(), before);
                }
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
            check_indexes(&db, "c").map_err(TestCaseError::fail)?;
            let docs: Vec<Ipld> = model.docs.values().cloned().collect();
            prop_assert_eq!(all_documents(&db, "c"), docs);
            let catalog = db.collection("c").unwrap().expect_complete();
            prop_assert_eq!(catalog.indexes, model.indexes.clone());
        }
    }

    /// History independence at the database level: the same documents and indexes give the same
    /// root, whatever the order of writes and the batches they came in.
    #[test]
    fn same_contents_same_root(
        docs in prop::collection::vec(document(), 0..40),
        def in index_def("i1"),
        split in any::<prop::sample::Index>(),
    ) {
        let mut by_id = BTreeMap::new();
        for doc in &docs {
            by_id.insert(id_of(doc), doc.clone());
        }
        let mut one = new_db();
        let mut batch = WriteBatch::new();
        batch.create_index("c", def.clone());
        for doc in by_id.values() {
            batch.upsert("c", doc.clone());
        }
        one.apply(&batch).unwrap().expect_complete();

        // Reversed, split in two batches, the index created last, and with a detour.
        let mut two = new_db();
        let reversed: Vec<&Ipld> = docs.iter().rev().collect();
        let at = split.index(reversed.len() + 1);
        let mut first = WriteBatch::new();
        first.upsert("c", Ipld::Map(BTreeMap::from([("_id".into(), Ipld::Integer(99))])));
        for doc in &reversed[..at] {
            first.upsert("c", (*doc).clone());
        }
        two.apply(&first).unwrap().expect_complete();
        let mut second = WriteBatch::new();
        for doc in &reversed[at..] {
            second.upsert("c", (*doc).clone());
        }
        second.delete("c", Ipld::Integer(99));
        // Later duplicates of an id win in `docs`; the reversed order must end on the same ones.
        for doc in by_id.values() {
            second.upsert("c", doc.clone());
        }
        second.create_index("c", def);
        two.apply(&second).unwrap().expect_complete();
        prop_assert_eq!(one.root(), two.root());
    }
}

fn refused(db: &mut Database<MemoryBlockstore>, batch: &WriteBatch) -> (usize, Refusal) {
    let before = db.root();
    match db.apply(batch) {
        Err(Error::Write { op, reason, .. }) => {
            assert_eq!(db.root(), before, "a refused batch changed the root");
            (op, reason)
        }
        other => panic!("expected a refused write, got {other:?}"),
    }
}

fn doc(json: &str) -> Ipld {
    prolly_db::parse_json(json).unwrap()
}

#[test]
fn bad_writes_are_refused_with_typed_errors() {
    let mut db = new_db();
    let mut setup = WriteBatch::new();
    setup.create_index("c", unique_index());
    setup.insert("c", doc(r#"{"_id": 1, "c": "x"}"#));
    db.apply(&setup).unwrap().expect_complete();

    // The refused op is named by position; everything before it in the batch is undone too.
    let mut batch = WriteBatch::new();
    batch.insert("c", doc(r#"{"_id": 2, "c": "y"}"#));
    batch.insert("nope", doc(r#"{"_id": 3}"#));
    assert_eq!(
        refused(&mut db, &batch),
        (1, Refusal::NoCollection("nope".into()))
    );

    let mut batch = WriteBatch::new();
    batch.insert("c", doc(r#"{"_id": 2, "c": "x"}"#));
    let (op, reason) = refused(&mut db, &batch);
    assert_eq!(op, 0);
    assert!(
        matches!(reason, Refusal::Unique { ref index, .. } if index == "u"),
        "{reason}"
    );

    let mut batch = WriteBatch::new();
    batch.insert("c", doc(r#"{"_id": 1}"#));
    assert!(matches!(
        refused(&mut db, &batch).1,
        Refusal::DuplicateId(_)
    ));

    let big = "x".repeat(20_000);
    let mut batch = WriteBatch::new();
    batch.insert("c", doc(&format!(r#"{{"_id": 5, "text": "{big}"}}"#)));
    assert!(matches!(
        refused(&mut db, &batch).1,
        Refusal::DocumentTooLarge { .. }
    ));

    let long_id = "k".repeat(600);
    let mut batch = WriteBatch::new();
    batch.insert("c", doc(&format!(r#"{{"_id": "{long_id}"}}"#)));
    assert!(matches!(
        refused(&mut db, &batch).1,
        Refusal::KeyTooLarge { .. }
    ));

    let mut batch = WriteBatch::new();
    batch.insert("c", doc(r#"{"_id": 1.5}"#));
    assert!(matches!(
        refused(&mut db, &batch).1,
        Refusal::BadDocument(_)
    ));

    let mut batch = WriteBatch::new();
    batch.push(Op::Update {
        collection: "c".into(),
        id: Ipld::Integer(42),
        patch: Patch::Merge {
            set: vec![],
            unset: vec![],
        },
    });
    assert!(matches!(refused(&mut db, &batch).1, Refusal::NotFound(_)));

    // A list in a plain index field: refused, with the fix in the message.
    let mut batch = WriteBatch::new();
    batch.insert("c", doc(r#"{"_id": 7, "c": ["a", "b"]}"#));
    let reason = refused(&mut db, &batch).1;
    assert!(matches!(reason, Refusal::ListInScalarField { .. }));
    assert!(reason.to_string().contains("c[]"), "{reason}");

    let mut batch = WriteBatch::new();
    batch.create_collection("c");
    assert!(matches!(
        refused(&mut db, &batch).1,
        Refusal::CollectionExists(_)
    ));

    let mut batch = WriteBatch::new();
    batch.push(Op::DropIndex {
        collection: "c".into(),
        name: "zzz".into(),
    });
    assert!(matches!(refused(&mut db, &batch).1, Refusal::NoIndex(_)));

    // Creating a unique index over documents that already break it.
    let mut batch = WriteBatch::new();
    batch.insert("c", doc(r#"{"_id": 8, "d": 1}"#));
    batch.insert("c", doc(r#"{"_id": 9, "d": 1.0}"#));
    batch.insert("c", doc(r#"{"_id": 10, "d": 1}"#));
    let mut unique_d = unique_index();
    unique_d.name = "ud".into();
    unique_d.fields[0].path = Path::parse("d").unwrap();
    batch.create_index("c", unique_d);
    assert!(matches!(
        refused(&mut db, &batch),
        (3, Refusal::Unique { .. })
    ));

    // Malformed paths never get as far as a batch.
    let bad = WriteBatch::from_json(
        r#"{"ops": [{"op": "create_index", "collection": "c", "index": {"name": "x", "fields": ["a..b"]}}]}"#,
    );
    assert!(
        matches!(bad, Err(Error::Refused(Refusal::BadPath { .. }))),
        "{bad:?}"
    );
    let bad = WriteBatch::from_json(
        r#"{"ops": [{"op": "update", "collection": "c", "id": 1, "set": {"$x": 1}}]}"#,
    );
    assert!(
        matches!(bad, Err(Error::Refused(Refusal::BadPath { .. }))),
        "{bad:?}"
    );
    check_indexes(&db, "c").unwrap();
}

#[test]
fn generated_ids_derive_from_the_parent_root_and_position() {
    let mut a = new_db();
    let mut b = new_db();
    let mut batch = WriteBatch::new();
    batch
        .insert("c", doc(r#"{"n": 1}"#))
        .insert("c", doc(r#"{"n": 1}"#));
    a.apply(&batch).unwrap().expect_complete();
    b.apply(&batch).unwrap().expect_complete();
    assert_eq!(a.root(), b.root(), "replicas agree");
    let docs = all_documents(&a, "c");
    assert_eq!(docs.len(), 2, "two inserts of equal bodies get two ids");
    for d in &docs {
        assert!(matches!(Path::id().get(d), Some(Ipld::Bytes(b)) if b.len() == 16));
    }
}

#[test]
fn document_diff_reports_added_removed_and_changed() {
    // Both roots must live in one store: a cloned MemoryBlockstore is a copy.
    let store = MemoryBlockstore::default();
    let mut db = Database::create(&store, Config::with_targets(128, 128)).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("c");
    batch
        .insert("c", doc(r#"{"_id": 1, "a": 1}"#))
        .insert("c", doc(r#"{"_id": 2, "a": 2}"#));
    db.apply(&batch).unwrap().expect_complete();
    let before = db.clone();
    let mut batch = WriteBatch::new();
    batch
        .delete("c", Ipld::Integer(1))
        .upsert("c", doc(r#"{"_id": 2, "a": 3}"#))
        .insert("c", doc(r#"{"_id": 4, "a": 4}"#))
        .create_collection("d");
    db.apply(&batch).unwrap().expect_complete();
    let diff = before.diff(&db).unwrap().expect_complete();
    let c = &diff["c"];
    assert_eq!(c.added, vec![doc(r#"{"_id": 4, "a": 4}"#)]);
    assert_eq!(c.removed, vec![doc(r#"{"_id": 1, "a": 1}"#)]);
    assert_eq!(
        c.changed,
        vec![(doc(r#"{"_id": 2, "a": 2}"#), doc(r#"{"_id": 2, "a": 3}"#))]
    );
    assert!(!c.schema_changed);
    assert!(diff["d"].schema_changed);
}

/// The document with only its fields that a table's cell can hold (no bytes, lists or maps).
fn scalars_only(doc: &Ipld) -> Ipld {
    let Ipld::Map(fields) = doc else {
        return doc.clone();
    };
    Ipld::Map(
        fields
            .iter()
            .filter(|(key, value)| {
                *key == "_id"
                    || !matches!(
                        value,
                        Ipld::Bytes(_) | Ipld::List(_) | Ipld::Map(_) | Ipld::Link(_)
                    )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// A map of scalars with an `_id` as a flat document.
fn flat_of(doc: &Ipld) -> FlatDocument {
    let Ipld::Map(fields) = doc else {
        panic!("a map")
    };
    let mut body: Vec<(&str, Scalar)> = fields
        .iter()
        .filter(|(key, _)| *key != "_id")
        .map(|(key, value)| {
            let value = match value {
                Ipld::Null => Scalar::Null,
                Ipld::Bool(b) => Scalar::Bool(*b),
                Ipld::Integer(i) => Scalar::Integer(i64::try_from(*i).unwrap()),
                Ipld::Float(f) => Scalar::Float(*f),
                Ipld::String(s) => Scalar::Text(s),
                other => panic!("not a scalar: {other:?}"),
            };
            (key.as_str(), value)
        })
        .collect();
    body.sort_by(|(a, _), (b, _)| (a.len(), *a).cmp(&(b.len(), *b)));
    FlatDocument::new(fields["_id"].clone(), body.into_iter()).unwrap()
}

/// Long runs of inserts take the bulk path (sorted runs, two threads for big ones). It must
/// accept and refuse exactly what one-at-a-time application does, with the same first refused
/// operation, and write the same root.
fn bulk_matches_one_at_a_time(
    prefill: &[Ipld],
    inserts: &[Ipld],
    tail_upsert: bool,
) -> Result<(), TestCaseError> {
    let mut a = new_db();
    let mut setup = WriteBatch::new();
    setup.create_index("c", unique_index());
    setup.create_index(
        "c",
        IndexDef {
            name: "i1".into(),
            fields: vec![IndexField {
                path: Path::parse("tags").unwrap(),
                order: Order::Ascending,
                each: true,
            }],
            unique: false,
            include: vec![Path::parse("a").unwrap()],
        },
    );
    for doc in prefill {
        setup.upsert("c", doc.clone());
    }
    a.apply(&setup).unwrap().expect_complete();
    let mut b = a.clone();
    let mut batch = WriteBatch::new();
    for doc in inserts {
        batch.insert("c", doc.clone());
    }
    if tail_upsert {
        batch.upsert("c", doc(r#"{"_id": 5000, "c": "tail"}"#));
    }
    // The same inserts prepared ahead (as an import prepares them), applied after an empty batch.
    let prepared = (!tail_upsert).then(|| {
        let definition = a.collections().unwrap().expect_complete().remove(0).1;
        let config = *a.tree().config();
        (
            a.clone(),
            PreparedInserts::new("c", &definition, &config, inserts),
        )
    });
    // The same inserts, their non-scalar fields dropped, prepared as IPLD and as flat
    // documents (as an import reads a table): the same root, or the same refusal.
    if !tail_upsert {
        let definition = a.collections().unwrap().expect_complete().remove(0).1;
        let config = *a.tree().config();
        let maps: Vec<Ipld> = inserts.iter().map(scalars_only).collect();
        let flat: Vec<FlatDocument> = maps.iter().map(flat_of).collect();
        let (mut x, mut y) = (a.clone(), a.clone());
        let as_maps = x.apply_prepared(
            &WriteBatch::new(),
            PreparedInserts::new("c", &definition, &config, &maps),
        );
        let as_flat = y.apply_prepared(
            &WriteBatch::new(),
            PreparedInserts::from_flat("c", &definition, &config, &flat),
        );
        match (as_maps, as_flat) {
            (Ok(m), Ok(f)) => prop_assert_eq!(m.expect_complete(), f.expect_complete()),
            (Err(m), Err(f)) => prop_assert_eq!(m.to_string(), f.to_string()),
            (m, f) => prop_assert!(
                false,
                "maps {:?} but flat {:?}",
                m.map(|_| ()),
                f.map(|_| ())
            ),
        }
    }
    let bulk = a.apply(&batch);
    let single = b.apply_one_at_a_time(&batch);
    if let Some((mut p, inserts)) = prepared {
        match (&bulk, p.apply_prepared(&WriteBatch::new(), inserts)) {
            (Ok(x), Ok(y)) => prop_assert_eq!(x.clone().expect_complete(), y.expect_complete()),
            (
                Err(Error::Write {
                    op: x,
                    reason: rx,
                    id: ix,
                }),
                Err(Error::Write {
                    op: y,
                    reason: ry,
                    id: iy,
                }),
            ) => {
                prop_assert_eq!(x, &y);
                prop_assert_eq!(rx, &ry);
                prop_assert_eq!(ix, &iy);
            }
            (x, y) => prop_assert!(
                false,
                "bulk {:?} but prepared {:?}",
                x.as_ref().map(|_| ()),
                y.map(|_| ())
            ),
        }
    }
    match (bulk, single) {
        (Ok(x), Ok(y)) => {
            prop_assert_eq!(x.expect_complete(), y.expect_complete());
            check_indexes(&a, "c").map_err(TestCaseError::fail)?;
        }
        (
            Err(Error::Write {
                op: x, reason: rx, ..
            }),
            Err(Error::Write {
                op: y, reason: ry, ..
            }),
        ) => {
            prop_assert_eq!(x, y);
            prop_assert_eq!(std::mem::discriminant(&rx), std::mem::discriminant(&ry));
        }
        (x, y) => prop_assert!(
            false,
            "bulk {:?} but one at a time {:?}",
            x.map(|_| ()),
            y.map(|_| ())
        ),
    }
    Ok(())
}

fn numbered(n: usize, salt: i128) -> Vec<Ipld> {
    (0..n as i128)
        .map(|i| {
            doc(&format!(
                r#"{{"_id": {}, "c": {}, "tags": ["t{}", "t{}"], "a": {i}}}"#,
                i * 7 + salt,
                i * 13 + salt,
                i % 5,
                i % 3
            ))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn bulk_inserts_agree_with_one_at_a_time(
        n in 256usize..700,
        prefill in 0usize..3,
        clash in prop::option::of((any::<prop::sample::Index>(), 0u8..4)),
        tail_upsert in any::<bool>(),
    ) {
        let mut inserts = numbered(n, 1_000_000);
        if let Some((at, kind)) = clash {
            let i = at.index(n);
            inserts[i] = match kind {
                0 => inserts[i / 2].clone(), // the same _id (and c) as an earlier insert
                1 => doc(&format!(r#"{{"_id": "fresh{i}", "c": {}}}"#, 1_000_000 + (i as i128 / 3) * 13)), // a unique clash
                2 => doc(r#"{"_id": 1.5}"#), // a bad id
                _ => doc(&format!(r#"{{"_id": "big{i}", "x": "{}"}}"#, "y".repeat(13_000))), // too large
            };
        }
        let prefill = numbered(prefill * 100, 0);
        bulk_matches_one_at_a_time(&prefill, &inserts, tail_upsert)?;
        // Clashing with what is stored rather than within the run.
        if !prefill.is_empty() {
            let mut again = inserts.clone();
            again[n / 2] = prefill[prefill.len() / 2].clone();
            bulk_matches_one_at_a_time(&prefill, &again, tail_upsert)?;
        }
    }
}

#[test]
fn a_large_bulk_insert_uses_both_threads_and_agrees() {
    let inserts = numbered(25_000, 0);
    bulk_matches_one_at_a_time(&[], &inserts, false).unwrap();
    let mut clashing = inserts;
    clashing[24_000] = clashing[3].clone();
    clashing[20_000] = doc(r#"{"_id": [1]}"#);
    bulk_matches_one_at_a_time(&[], &clashing, true).unwrap();
}

/// A gazetteer's place with many alternate names: up to `limits::MAX_ENTRIES_PER_DOCUMENT`
/// distinct names index (267 is the most in GeoNames' cities500); one more is refused, and the
/// error names the operation and the document.
#[test]
fn a_multi_entry_index_takes_a_real_gazetteer() {
    let max = prolly_db::limits::MAX_ENTRIES_PER_DOCUMENT;
    let mut db = new_db();
    let mut setup = WriteBatch::new();
    setup.create_collection("places");
    setup.create_index(
        "places",
        IndexDef::from_ipld(&doc(r#"{"name": "by_name", "fields": ["names[]"]}"#)).unwrap(),
    );
    db.apply(&setup).unwrap().expect_complete();
    let place = |id: &str, n: usize| {
        let names: Vec<Ipld> = (0..n).map(|i| Ipld::String(format!("name {i}"))).collect();
        Ipld::Map(BTreeMap::from([
            ("_id".to_string(), Ipld::String(id.into())),
            ("names".to_string(), Ipld::List(names)),
        ]))
    };
    let mut batch = WriteBatch::new();
    batch.insert("places", place("jerusalem", 267));
    batch.insert("places", place("widest", max));
    db.apply(&batch).unwrap().expect_complete();
    check_indexes(&db, "places").unwrap();
    let query = prolly_db::Query::from_json(
        r#"{"collection": "places", "filter": {"names": "name 266"}, "require_index": true}"#,
    )
    .unwrap();
    let found = db.query(&query).unwrap().expect_complete();
    assert_eq!(found.docs.len(), 2);

    let mut batch = WriteBatch::new();
    batch.insert("places", place("small", 3));
    batch.insert("places", place("too-many", max + 1));
    let before = db.root();
    match db.apply(&batch) {
        Err(e @ Error::Write { op: 1, .. }) => {
            assert!(
                matches!(e.refusal(), Some(Refusal::TooManyEntries { count, .. }) if *count == max + 1),
                "{e}"
            );
            assert!(e.to_string().contains(r#"_id "too-many""#), "{e}");
        }
        other => panic!("expected the second op refused, got {other:?}"),
    }
    assert_eq!(db.root(), before);
}

/// The document cap is three quarters of the leaf cap: 12 KiB by default, and a database created
/// with larger leaves takes the kubo feed's longest commit (27.7 KB of release notes).
#[test]
fn larger_leaves_take_larger_documents() {
    let long_notes = |n: usize| {
        Ipld::Map(BTreeMap::from([
            ("_id".to_string(), Ipld::String("v0.30.0".into())),
            ("body".to_string(), Ipld::String("x".repeat(n))),
        ]))
    };
    let mut batch = WriteBatch::new();
    batch.create_collection("commits");
    batch.insert("commits", long_notes(27_758));

    let mut small = Database::create(MemoryBlockstore::default(), Config::default()).unwrap();
    let before = small.root();
    let err = small.apply(&batch).unwrap_err();
    assert!(
        matches!(err.refusal(), Some(Refusal::DocumentTooLarge { max, .. }) if *max == 12 * 1024),
        "{err}"
    );
    assert_eq!(small.root(), before);

    let config = Config {
        leaf_cap: 48 * 1024,
        ..Config::default()
    };
    assert_eq!(prolly_db::limits::max_document_bytes(&config), 36 * 1024);
    let mut large = Database::create(MemoryBlockstore::default(), config).unwrap();
    large.apply(&batch).unwrap().expect_complete();
    let back = large
        .query(&prolly_db::Query::from_json(r#"{"collection": "commits"}"#).unwrap())
        .unwrap()
        .expect_complete();
    assert_eq!(back.docs, vec![long_notes(27_758)]);
}

/// The catalog is a block of its own beside the tree: a write that leaves the schema alone keeps
/// the same block; a schema change links a new one; a root without a prollydb catalog (a bare
/// tree, or another version's) is not opened as a database, and the error says why.
#[test]
fn the_catalog_block_moves_only_with_the_schema() {
    let mut db = new_db();
    let before = db.tree().meta().expect("a catalog block");
    let mut batch = WriteBatch::new();
    batch.insert("c", doc(r#"{"_id": 1, "c": 5}"#));
    db.apply(&batch).unwrap().expect_complete();
    assert_eq!(
        db.tree().meta(),
        Some(before),
        "documents do not touch the catalog"
    );
    let mut batch = WriteBatch::new();
    batch.create_index("c", unique_index());
    db.apply(&batch).unwrap().expect_complete();
    assert_ne!(db.tree().meta(), Some(before));
    assert_eq!(
        db.collection("c").unwrap().expect_complete().indexes.len(),
        1
    );
    // Dropping the index brings back the first catalog block, byte for byte.
    let mut batch = WriteBatch::new();
    batch.ops.push(Op::DropIndex {
        collection: "c".into(),
        name: "u".into(),
    });
    db.apply(&batch).unwrap().expect_complete();
    assert_eq!(db.tree().meta(), Some(before));

    let store = db.store();
    let bare = prolly_tree::Tree::empty(store, Config::default()).unwrap();
    match Database::open(store, bare.cid()) {
        Err(Error::NotADatabase(why)) => assert!(why.contains("without a catalog"), "{why}"),
        other => panic!("a bare tree opened: {other:?}"),
    }
    let old = prolly_tree::RawValue::from_ipld(&doc(r#"{"format": "prollydb", "version": 1}"#))
        .unwrap()
        .as_bytes()
        .to_vec();
    let mut tree = prolly_tree::Tree::empty(store, Config::default()).unwrap();
    tree.apply_with_meta(&prolly_tree::Batch::new(), Some(old))
        .unwrap()
        .expect_complete();
    match Database::open(store, tree.cid()) {
        Err(e @ Error::NotADatabase(_)) => {
            let text = e.to_string();
            assert!(text.contains("version 1") && text.contains("v2"), "{text}");
        }
        other => panic!("a version-1 header opened: {other:?}"),
    }
}

/// The catalog is one block that every query and write reads whole: a batch that would grow it
/// past its limit is refused whole, naming the operation, and the root does not move.
#[test]
fn a_catalog_past_its_limit_is_refused() {
    let mut db = new_db();
    let root = db.root();
    let long = |j: usize| format!("f{j}_{}", "x".repeat(240));
    let ops: Vec<String> = (0..200)
        .map(|i| {
            let fields: Vec<String> = (0..8).map(|j| format!(r#""{}""#, long(j))).collect();
            format!(
                r#"{{"op": "create_index", "collection": "c", "index": {{"name": "ix{i}", "fields": [{}]}}}}"#,
                fields.join(", ")
            )
        })
        .collect();
    let batch = WriteBatch::from_json(&format!(r#"{{"ops": [{}]}}"#, ops.join(", "))).unwrap();
    let (op, reason) = refused(&mut db, &batch);
    assert!(
        matches!(reason, Refusal::CatalogTooLarge { size, max } if size > max),
        "{reason:?}"
    );
    assert!(
        op > 50,
        "refused at operation {op}, once the catalog outgrew its limit"
    );
    assert_eq!(db.root(), root);
}

/// Inserts prepared for one definition of a collection are refused once it has another (an index
/// added since), and a prepared insert needs its own `_id`; neither writes anything.
#[test]
fn prepared_inserts_are_refused_when_stale_or_without_an_id() {
    let mut db = new_db();
    let definition = db.collections().unwrap().expect_complete().remove(0).1;
    let config = *db.tree().config();
    let docs = numbered(300, 0);
    let stale = PreparedInserts::new("c", &definition, &config, &docs);
    let mut batch = WriteBatch::new();
    batch.create_index("c", unique_index());
    db.apply(&batch).unwrap().expect_complete();
    let before = db.root();
    let refused = db.apply_prepared(&WriteBatch::new(), stale).unwrap_err();
    assert!(
        matches!(refused.refusal(), Some(Refusal::PreparedForOther(c)) if c == "c"),
        "{refused}"
    );
    assert_eq!(db.root(), before);

    let definition = db.collections().unwrap().expect_complete().remove(0).1;
    let mut docs = numbered(300, 0);
    docs[7] = doc(r#"{"c": 1}"#);
    let prepared = PreparedInserts::new("c", &definition, &config, &docs);
    let mut batch = WriteBatch::new();
    batch.create_collection("d");
    match db.apply_prepared(&batch, prepared).unwrap_err() {
        Error::Write {
            op,
            reason: Refusal::BadDocument(why),
            ..
        } => {
            assert_eq!(op, 8, "numbered after the batch's one operation");
            assert!(why.contains("no _id"), "{why}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(db.root(), before);
}

/// A run of `create_index` operations on one collection scans the documents once for all of them.
/// It must accept and refuse exactly what one-at-a-time application does: the same root, or the
/// same first refused operation with the same reason.
#[test]
fn index_runs_agree_with_one_at_a_time() {
    let index = |name: &str, field: &str, unique: bool| {
        let each = field.ends_with("[]");
        IndexDef {
            name: name.into(),
            fields: vec![IndexField {
                path: Path::parse(field.trim_end_matches("[]")).unwrap(),
                order: Order::Ascending,
                each,
            }],
            unique,
            include: vec![],
        }
    };
    let no_fields = IndexDef {
        fields: vec![],
        ..index("empty", "a", false)
    };
    let runs: Vec<(&str, Vec<IndexDef>)> = vec![
        (
            "all pass",
            vec![
                index("by_tags", "tags[]", false),
                index("by_c", "c", true),
                index("by_a", "a", false),
            ],
        ),
        // 300 documents, 5 tag values: a unique index on tags fails in the scan.
        (
            "a scan fails",
            vec![
                index("by_a", "a", false),
                index("u_tags", "tags[]", true),
                index("by_c", "c", false),
            ],
        ),
        (
            "a definition fails",
            vec![index("by_a", "a", false), no_fields.clone()],
        ),
        (
            "the first definition fails",
            vec![no_fields.clone(), index("by_a", "a", false)],
        ),
        (
            "a name repeats",
            vec![index("by_a", "a", false), index("by_a", "c", false)],
        ),
        (
            "a scan fails before a definition does",
            vec![
                index("by_a", "a", false),
                index("u_tags", "tags[]", true),
                no_fields.clone(),
            ],
        ),
    ];
    for (case, defs) in runs {
        for collection in ["c", "absent"] {
            let mut a = new_db();
            let mut prefill = WriteBatch::new();
            for doc in numbered(300, 0) {
                prefill.insert("c", doc);
            }
            a.apply(&prefill).unwrap().expect_complete();
            let mut b = a.clone();
            let mut batch = WriteBatch::new();
            for def in &defs {
                batch.create_index(collection, def.clone());
            }
            match (a.apply(&batch), b.apply_one_at_a_time(&batch)) {
                (Ok(x), Ok(y)) => {
                    assert_eq!(x.expect_complete(), y.expect_complete(), "{case}");
                    check_indexes(&a, "c").unwrap();
                }
                (
                    Err(Error::Write {
                        op: x, reason: rx, ..
                    }),
                    Err(Error::Write {
                        op: y, reason: ry, ..
                    }),
                ) => assert_eq!((x, rx), (y, ry), "{case} on {collection}"),
                (x, y) => panic!(
                    "{case} on {collection}: run {:?} but one at a time {:?}",
                    x.map(|_| ()),
                    y.map(|_| ())
                ),
            }
        }
    }
}

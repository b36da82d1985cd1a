//! Parsed GraphQL documents kept by their text: clients send the same few documents again
//! and again with other variables, and parsing one (async-graphql's pest grammar) cost a
//! quarter of a `customer(id)` request's CPU, more than its SQL.
//!
//! The cache is bounded in entries and in the length of the documents it keeps: at most
//! [`GENERATION`] × 2 documents of at most [`MAX_CACHED_BYTES`] each. It keeps two
//! generations: a document found in the older one moves to the newer one, and when the
//! newer one is full the older one is dropped. A document used once in a while stays; a
//! flood of distinct documents only evicts, and longer documents are parsed every time.
//! Documents that do not parse are never kept.
//!
//! Each kept document also remembers which of its operations passed async-graphql's strict
//! validation, so that later requests may skip the rules that cannot change their verdict
//! (see [`crate::validation`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::parser::{self, parse_query};

/// Documents per generation.
pub(crate) const GENERATION: usize = 64;

/// Longest document text kept, in bytes; real clients' documents are well below it.
pub(crate) const MAX_CACHED_BYTES: usize = 4 * 1024;

/// Bounds of the room reserved for an answer ([`Parsed::answer_capacity`]). The upper one
/// keeps a document whose last answer was large from reserving that much for every small
/// one after it: a larger answer grows its buffer as before.
const ANSWER_ROOM: std::ops::RangeInclusive<usize> = 1024..=64 * 1024;

/// Parsed documents by their text (see the module docs).
#[derive(Default)]
pub(crate) struct Documents {
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    newer: HashMap<Box<str>, Arc<Parsed>>,
    older: HashMap<Box<str>, Arc<Parsed>>,
}

/// A parsed document and the operations of it that passed strict validation.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) document: ExecutableDocument,
    /// The operation names (as requests gave them) whose strict validation passed: at most
    /// one per operation, and `None` once.
    validated: Mutex<Vec<Option<Box<str>>>>,
    /// The length of the last answer written to it, in bytes.
    answer_length: AtomicUsize,
}

impl Parsed {
    pub(crate) fn new(document: ExecutableDocument) -> Parsed {
        Parsed {
            document,
            validated: Mutex::new(Vec::new()),
            answer_length: AtomicUsize::new(0),
        }
    }

    /// Room to reserve for the next answer: about the last one's length, within
    /// [`ANSWER_ROOM`]. A page of customers with their users is tens of KiB, which a
    /// buffer grown from 1 KiB copied six times over.
    pub(crate) fn answer_capacity(&self) -> usize {
        let last = self.answer_length.load(Ordering::Relaxed);
        last.saturating_add(last / 8)
            .clamp(*ANSWER_ROOM.start(), *ANSWER_ROOM.end())
    }

    /// Notes the length of an answer written.
    pub(crate) fn note_answer_length(&self, length: usize) {
        self.answer_length.store(length, Ordering::Relaxed);
    }

    /// Whether a request for `operation_name` passed strict validation before.
    pub(crate) fn validated(&self, operation_name: Option<&str>) -> bool {
        self.lock()
            .iter()
            .any(|name| name.as_deref() == operation_name)
    }

    /// Notes that a request for `operation_name` passed strict validation; only operation
    /// names the document has pass it, which bounds the list.
    pub(crate) fn note_validated(&self, operation_name: Option<&str>) {
        let mut validated = self.lock();
        if !validated
            .iter()
            .any(|name| name.as_deref() == operation_name)
        {
            validated.push(operation_name.map(Box::from));
        }
    }

    /// The list; a panic while it was held left it whole (one `push`).
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Box<str>>>> {
        self.validated
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Generations {
    /// Keeps `document` in the newer generation, first dropping the older one when full.
    fn keep(&mut self, text: Box<str>, document: Arc<Parsed>) {
        if self.newer.len() >= GENERATION {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(text, document);
    }
}

impl Documents {
    /// The parsed document of `text`, kept from an earlier request or parsed now.
    pub(crate) fn parse(&self, text: &str) -> Result<Arc<Parsed>, parser::Error> {
        if text.len() > MAX_CACHED_BYTES {
            return parse_query(text).map(|document| Arc::new(Parsed::new(document)));
        }
        if let Some(document) = self.find(text) {
            return Ok(document);
        }
        // Parsed outside the lock: parsing is the slow part.
        let document = Arc::new(Parsed::new(parse_query(text)?));
        self.lock().keep(text.into(), document.clone());
        Ok(document)
    }

    fn find(&self, text: &str) -> Option<Arc<Parsed>> {
        let mut generations = self.lock();
        if let Some(document) = generations.newer.get(text) {
            return Some(document.clone());
        }
        let (text, document) = generations.older.remove_entry(text)?;
        generations.keep(text, document.clone());
        Some(document)
    }

    /// The generations; a panic while they were held left them whole (every change is one
    /// `HashMap` call), so a poisoned lock is used as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self.lock();
        generations.newer.len() + generations.older.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(n: usize) -> String {
        format!("{{ customer(id: \"{n}\") {{ id }} }}")
    }

    #[test]
    fn a_document_sent_again_is_not_parsed_again() {
        let documents = Documents::default();
        let first = documents.parse("{ customers { nodes { id } } }").unwrap();
        let again = documents.parse("{ customers { nodes { id } } }").unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = documents.parse("{ customers { nodes { name } } }").unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(
            format!("{:?}", first.document),
            format!(
                "{:?}",
                parse_query("{ customers { nodes { id } } }").unwrap()
            )
        );
    }

    #[test]
    fn the_room_for_an_answer_follows_the_last_within_bounds() {
        let parsed = Parsed::new(parse_query("{ a }").unwrap());
        assert_eq!(parsed.answer_capacity(), 1024);
        parsed.note_answer_length(40_000);
        assert_eq!(parsed.answer_capacity(), 45_000);
        parsed.note_answer_length(100 * 1024 * 1024);
        assert_eq!(parsed.answer_capacity(), 64 * 1024);
    }

    #[test]
    fn validation_is_remembered_per_operation_name() {
        let documents = Documents::default();
        let parsed = documents
            .parse("query A { viewer { id } } query B { viewer { name } }")
            .unwrap();
        assert!(!parsed.validated(Some("A")));
        parsed.note_validated(Some("A"));
        parsed.note_validated(Some("A"));
        let again = documents
            .parse("query A { viewer { id } } query B { viewer { name } }")
            .unwrap();
        assert!(again.validated(Some("A")));
        assert!(!again.validated(Some("B")));
        assert!(!again.validated(None));
        assert_eq!(again.lock().len(), 1);
    }

    #[test]
    fn the_cache_stays_bounded_and_keeps_what_is_used() {
        let documents = Documents::default();
        let used = documents.parse(&document(0)).unwrap();
        for n in 1..10 * GENERATION {
            documents.parse(&document(n)).unwrap();
            // Used now and then, it is moved along before its generation is dropped.
            if n % (GENERATION / 2) == 0 {
                assert!(Arc::ptr_eq(&used, &documents.parse(&document(0)).unwrap()));
            }
            assert!(documents.len() <= 2 * GENERATION);
        }
        // One not used since went with its generation; the one used is still there.
        assert!(documents.find(&document(1)).is_none());
        assert!(documents.find(&document(0)).is_some());
    }

    #[test]
    fn long_documents_and_errors_are_not_kept() {
        let documents = Documents::default();
        let padding = " ".repeat(MAX_CACHED_BYTES);
        let long = format!("{{ customers {{ totalCount }} }}{padding}");
        let first = documents.parse(&long).unwrap();
        assert!(!Arc::ptr_eq(&first, &documents.parse(&long).unwrap()));
        assert!(documents.parse("{ customers {").is_err());
        assert!(documents.parse("{ customers {").is_err());
        assert_eq!(documents.len(), 0);
    }
}

//! The audit chain: tampering found, concurrent servers on one PostgreSQL chain.

use super::*;

fn load_events(db: &Db) -> Vec<AuditEvent> {
    db.read(|tx| {
        Ok(with_tx!(tx, |c| audit_events::table
            .order(audit_events::seq.asc())
            .load::<AuditEvent>(c))?)
    })
    .unwrap()
}

fn restore(db: &Db, rows: &[AuditEvent]) {
    exec(db, "DELETE FROM audit_events");
    db.transaction(|tx| {
        for r in rows {
            with_tx!(tx, |c| diesel::insert_into(audit_events::table)
                .values((
                    audit_events::seq.eq(r.seq),
                    audit_events::at.eq(r.at),
                    audit_events::actor.eq(&r.actor),
                    audit_events::action.eq(&r.action),
                    audit_events::entity.eq(&r.entity),
                    audit_events::entity_id.eq(&r.entity_id),
                    audit_events::sample_id.eq(r.sample_id),
                    audit_events::before_json.eq(&r.before_json),
                    audit_events::after_json.eq(&r.after_json),
                    audit_events::reason.eq(&r.reason),
                    audit_events::prev_hash.eq(&r.prev_hash),
                    audit_events::hash.eq(&r.hash),
                ))
                .execute(c))?;
        }
        Ok(())
    })
    .unwrap();
    assert!(audit::verify(db).unwrap().ok, "restored chain verifies");
}

fn broken_at(db: &Db) -> (i64, String) {
    let r = audit::verify(db).unwrap();
    assert!(!r.ok);
    let b = r.first_broken.unwrap();
    (b.seq, b.problem)
}

fn audit_tampering_is_found(backend: Backend) {
    let Some(t) = fresh_db(backend) else { return };
    let p = seed(&t.db, t0());
    let id = tested_sample(&t.db, &p.tech, &FAILING, 1);
    release(&t.db, &p, id).unwrap();
    let clean = audit::verify(&t.db).unwrap();
    assert!(clean.ok, "{clean:?}");
    let rows = load_events(&t.db);
    let n = rows.len() as i64;
    assert_eq!(clean.events, n);
    let k = n - 3; // an event in the middle of the sample's history
                   // 1. Edit one field of event k.
    exec(
        &t.db,
        &format!("UPDATE audit_events SET actor = 'mallory' WHERE seq = {k}"),
    );
    let (seq, problem) = broken_at(&t.db);
    assert_eq!(seq, k);
    assert!(problem.contains("edited"), "{problem}");
    restore(&t.db, &rows);
    // 2. Edit event k and recompute its own hash: the next event's link breaks.
    let mut forged = rows[(k - 1) as usize].clone();
    forged.reason = Some("nothing happened".into());
    forged.hash = audit::event_hash(&forged);
    exec(
        &t.db,
        &format!(
            "UPDATE audit_events SET reason = 'nothing happened', hash = '{}' WHERE seq = {k}",
            forged.hash
        ),
    );
    assert_eq!(broken_at(&t.db).0, k + 1);
    restore(&t.db, &rows);
    // 3. Delete event k: the gap is found at k + 1.
    exec(&t.db, &format!("DELETE FROM audit_events WHERE seq = {k}"));
    let (seq, problem) = broken_at(&t.db);
    assert_eq!(seq, k + 1);
    assert!(problem.contains("missing"), "{problem}");
    restore(&t.db, &rows);
    // 4. Delete event k and renumber the later ones to close the gap: the link breaks at k.
    exec(&t.db, &format!("DELETE FROM audit_events WHERE seq = {k}"));
    exec(
        &t.db,
        &format!("UPDATE audit_events SET seq = seq - 1 WHERE seq > {k}"),
    );
    assert_eq!(broken_at(&t.db).0, k);
    restore(&t.db, &rows);
    // 5. Swap events k and k + 1 (reorder).
    exec(
        &t.db,
        &format!("UPDATE audit_events SET seq = -1 WHERE seq = {k}"),
    );
    exec(
        &t.db,
        &format!("UPDATE audit_events SET seq = {k} WHERE seq = {}", k + 1),
    );
    exec(
        &t.db,
        &format!("UPDATE audit_events SET seq = {} WHERE seq = -1", k + 1),
    );
    let (seq, problem) = broken_at(&t.db);
    assert_eq!(seq, k);
    assert!(problem.contains("reordered"), "{problem}");
    restore(&t.db, &rows);
    // The documented limit (docs/security.md): the LAST event rewritten with a recomputed hash
    // leaves a consistent chain; only an external anchor of the last hash can reveal it.
    let mut last = rows[(n - 1) as usize].clone();
    last.actor = "mallory".into();
    last.hash = audit::event_hash(&last);
    exec(
        &t.db,
        &format!(
            "UPDATE audit_events SET actor = 'mallory', hash = '{}' WHERE seq = {n}",
            last.hash
        ),
    );
    assert!(audit::verify(&t.db).unwrap().ok);
    assert_ne!(
        last.hash,
        rows[(n - 1) as usize].hash,
        "an anchored hash would differ"
    );
}
both!(audit_tampering_is_found => sqlite_audit_tampering_is_found, pg_audit_tampering_is_found);

/// Several pools (as several servers) on one PostgreSQL database, several threads each, append
/// events concurrently; the chain stays one unbroken sequence.
#[test]
fn pg_audit_chain_holds_with_concurrent_servers() {
    let Some(t) = fresh_db(Backend::Postgres) else {
        return;
    };
    const POOLS: usize = 3;
    const THREADS: usize = 4;
    const TXS: usize = 25;
    let pools: Vec<Db> = (0..POOLS)
        .map(|_| Db::open(&t.url, THREADS as u32).unwrap())
        .collect();
    std::thread::scope(|s| {
        for (pi, db) in pools.iter().enumerate() {
            for th in 0..THREADS {
                s.spawn(move || {
                    for i in 0..TXS {
                        db.transaction(|tx| {
                            // Two events per transaction: both land next to each other.
                            for half in 0..2 {
                                audit::append(
                                    tx,
                                    Utc::now().timestamp_millis(),
                                    audit::NewEvent {
                                        actor: format!("server-{pi}"),
                                        action: "test.concurrent".into(),
                                        entity: "thread".into(),
                                        entity_id: format!("{pi}/{th}/{i}/{half}"),
                                        ..Default::default()
                                    },
                                )?;
                            }
                            Ok(())
                        })
                        .unwrap();
                    }
                });
            }
        }
    });
    let r = audit::verify(&t.db).unwrap();
    // 3 pools × 4 threads × 25 transactions × 2 events = 600 events.
    assert_eq!((r.ok, r.events), (true, 600), "{r:?}");
    let rows = load_events(&t.db);
    for pair in rows.chunks(2) {
        let (a, b) = (&pair[0].entity_id, &pair[1].entity_id);
        assert_eq!(a.strip_suffix("/0"), b.strip_suffix("/1"), "{a} then {b}");
    }
    drop(pools);
}

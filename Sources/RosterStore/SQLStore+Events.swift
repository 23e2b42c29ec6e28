import Foundation
import RosterCore

/// The event feed's side of the store (SPEC §11): the audit log read as events, and one
/// cursor per endpoint.
extension SQLStore {
    public func status() throws -> StoreStatus {
        try read { db in
            let info = try Self.storeInfo(db, backend: backend)
            let last = try db.integer("SELECT MAX(seq) FROM audit") ?? 0
            return StoreStatus(lineage: info.lineage, serial: info.serial, lastSequence: Int(last))
        }
    }

    public func eventCursors() throws -> [String: EventCursor] {
        try read { db in
            var cursors: [String: EventCursor] = [:]
            try db.forEachRow("""
                SELECT endpoint, cursor, attempts, last_error, last_attempt_at, next_attempt_epoch FROM event_cursors
                """, []) { row in
                let cursor = EventCursor(endpoint: try row.text(0), cursor: Int(try row.integer(1)),
                                         attempts: Int(try row.integer(2)), lastError: try row.optionalText(3),
                                         lastAttemptAt: try row.optionalText(4),
                                         nextAttemptAt: try row.optionalReal(5).map { Date(timeIntervalSince1970: $0) })
                cursors[cursor.endpoint] = cursor
            }
            return cursors
        }
    }

    public func registerEndpoint(_ name: String, fromStart: Bool, at: Date) throws -> EventCursor {
        try write { db in
            if try db.integer("SELECT COUNT(*) FROM event_cursors WHERE endpoint = ?", [name]) == 0 {
                let start = fromStart ? 0 : (try db.integer("SELECT MAX(seq) FROM audit") ?? 0)
                try db.execute("INSERT INTO event_cursors (endpoint, cursor, created_at) VALUES (?, ?, ?)",
                               [name, start, Timestamp.string(at)])
            }
        }
        guard let cursor = try eventCursors()[name] else { preconditionFailure("the cursor was just written") }
        return cursor
    }

    public func recordEventAttempt(endpoint: String, expected: Int, cursor: Int, failure: EventFailure?, at: Date) throws -> Bool {
        let time = Timestamp.string(at)
        return try write { db in
            if let failure {
                return try db.execute("""
                    UPDATE event_cursors SET cursor = ?, attempts = attempts + 1, last_error = ?, last_attempt_at = ?,
                        next_attempt_epoch = ?
                    WHERE endpoint = ? AND cursor = ?
                    """, [cursor, failure.error, time, failure.nextAttempt.timeIntervalSince1970, endpoint, expected]) == 1
            }
            return try db.execute("""
                UPDATE event_cursors SET cursor = ?, attempts = 0, last_error = NULL, last_attempt_at = ?, next_attempt_epoch = NULL
                WHERE endpoint = ? AND cursor = ?
                """, [cursor, time, endpoint, expected]) == 1
        }
    }
}

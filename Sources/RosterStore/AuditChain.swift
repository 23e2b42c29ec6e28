import Crypto
import Foundation
import RosterCore

/// The hash chain of the audit log: each record's hash covers its content and the hash
/// before it, so a rewritten or deleted record breaks every hash after it.
enum AuditChain {
    static let genesis = String(repeating: "0", count: 64)
    private static let newline: [UInt8] = [UInt8(ascii: "\n")]

    static func hash(previous: String, serial: Int, at: String, actor: String, commit: String?,
                     action: String, entityType: String, entityID: String, change: String) -> String {
        // The fields joined by newlines, hashed as they are read rather than joined first.
        var hasher = SHA256()
        for (index, var field) in [previous, String(serial), at, actor, commit ?? "", action, entityType, entityID, change]
            .enumerated() {
            if index > 0 { hasher.update(data: newline) }
            field.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        }
        return hasher.finalize().withUnsafeBytes { hex($0) }
    }

    /// Checks every record in order, and that the last one is the `head` the store recorded.
    static func verify(_ records: [AuditRecord], head: String) -> AuditVerification {
        var previous = genesis
        for record in records {
            guard record.previousHash == previous else {
                return AuditVerification(records: records.count, firstBroken: record.sequence,
                                         reason: "record \(record.sequence) does not follow the record before it (one was removed or reordered)")
            }
            let expected = hash(previous: previous, serial: record.serial, at: record.at, actor: record.actor,
                                commit: record.commit, action: record.action.rawValue, entityType: record.entityType.rawValue,
                                entityID: record.entityID, change: record.change)
            guard expected == record.hash else {
                return AuditVerification(records: records.count, firstBroken: record.sequence,
                                         reason: "record \(record.sequence) was modified after it was written")
            }
            previous = record.hash
        }
        guard previous == head else {
            return AuditVerification(records: records.count, firstBroken: (records.last?.sequence ?? 0) + 1,
                                     reason: "the log ends before the last record the store wrote (records were removed from its end)")
        }
        return AuditVerification(records: records.count, firstBroken: nil, reason: nil)
    }
}

/// SHA-256 of an invitation token; only this is stored.
func tokenHash(_ token: String) -> [UInt8] {
    Array(SHA256.hash(data: Data(token.utf8)))
}

/// Compares two byte strings in time that depends only on their length.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in 0..<a.count { difference |= a[index] ^ b[index] }
    return difference == 0
}

/// "Did you mean" suggestions for misspelt names.
public enum Suggestion {
    /// The candidate closest to `word`, when it is close enough to be a plausible typo.
    ///
    /// Close enough means an edit distance of at most a third of the word's length (at
    /// least 1, at most 3). Ties go to the candidate that sorts first, so output is stable.
    public static func closest<S: Sequence>(to word: String, in candidates: S) -> String? where S.Element == String {
        let target = Array(word.lowercased().utf8)
        let bound = min(3, max(1, target.count / 3))
        var best: (distance: Int, candidate: String)?
        for candidate in candidates {
            let bytes = Array(candidate.lowercased().utf8)
            if abs(bytes.count - target.count) > bound { continue }
            let distance = editDistance(target, bytes)
            guard distance <= bound else { continue }
            if let current = best {
                if distance < current.distance || (distance == current.distance && candidate < current.candidate) {
                    best = (distance, candidate)
                }
            } else {
                best = (distance, candidate)
            }
        }
        return best?.candidate
    }

    /// The candidate email `email` is plausibly a typo of, or nil.
    ///
    /// A typo keeps one half of the address: the same domain with a local part a small edit
    /// away, or the same local part with a domain a small edit away (one edit, two from eight
    /// characters on). `adam@example.com` never suggests `sam@example.com`: in an
    /// access-control file, a different person is not a typo. Compares lower-cased; ties go to
    /// the candidate that sorts first.
    public static func closestEmail<S: Sequence>(to email: String, in candidates: S) -> String? where S.Element == String {
        guard let (local, domain) = emailHalves(email.lowercased()) else { return nil }
        let localBytes = Array(local.utf8), domainBytes = Array(domain.utf8)
        let localBound = localBytes.count >= 8 ? 2 : 1, domainBound = domainBytes.count >= 8 ? 2 : 1
        var best: (distance: Int, candidate: String)?
        for candidate in candidates {
            guard let (otherLocal, otherDomain) = emailHalves(candidate.lowercased()) else { continue }
            let distance: Int
            if otherDomain == domain, otherLocal != local {
                let bytes = Array(otherLocal.utf8)
                guard abs(bytes.count - localBytes.count) <= localBound else { continue }
                distance = editDistance(localBytes, bytes)
                guard distance <= localBound else { continue }
            } else if otherLocal == local, otherDomain != domain {
                let bytes = Array(otherDomain.utf8)
                guard abs(bytes.count - domainBytes.count) <= domainBound else { continue }
                distance = editDistance(domainBytes, bytes)
                guard distance <= domainBound else { continue }
            } else {
                continue
            }
            if best.map({ distance < $0.distance || (distance == $0.distance && candidate < $0.candidate) }) ?? true {
                best = (distance, candidate)
            }
        }
        return best?.candidate
    }

    private static func emailHalves(_ email: String) -> (Substring, Substring)? {
        guard let at = email.lastIndex(of: "@") else { return nil }
        return (email[..<at], email[email.index(after: at)...])
    }

    /// Levenshtein distance with adjacent transpositions counted as one edit.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, previous2[j - 2] + 1)
                }
                current[j] = value
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}

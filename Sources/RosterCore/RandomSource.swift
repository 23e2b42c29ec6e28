import Foundation

/// Where random bytes come from: passed in, so tests can fix tokens and ids.
public protocol RandomSource: Sendable {
    func bytes(_ count: Int) -> [UInt8]
}

/// The operating system's cryptographic generator (`getrandom` on Linux).
public struct SystemRandomSource: RandomSource {
    public init() {}

    /// The C library's `arc4random_buf` (glibc 2.36 and later, seeded by `getrandom`): a first
    /// apply asks twice per invitation, and a system call per eight bytes added up.
    public func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { arc4random_buf(base, buffer.count) }
        }
        return bytes
    }
}

/// Deterministic bytes from a seed (SplitMix64), for tests and benchmarks only; also a
/// generator for `random(in:using:)` and `shuffled(using:)`.
public final class SeededRandomSource: RandomSource, RandomNumberGenerator, @unchecked Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            let z = next()
            for shift in stride(from: 0, to: 64, by: 8) where out.count < count {
                out.append(UInt8(truncatingIfNeeded: z >> UInt64(shift)))
            }
        }
        return out
    }
}

/// base64url without padding (RFC 4648 §5), as used for invitation tokens.
public func base64URL(_ bytes: [UInt8]) -> String {
    let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet.withUTF8Buffer { alphabet in
        String(unsafeUninitializedCapacity: (bytes.count * 4 + 2) / 3) { out in
            var count = 0
            var index = 0
            while index < bytes.count {
                let b0 = Int(bytes[index])
                let b1 = index + 1 < bytes.count ? Int(bytes[index + 1]) : 0
                let b2 = index + 2 < bytes.count ? Int(bytes[index + 2]) : 0
                out[count] = alphabet[b0 >> 2]
                out[count + 1] = alphabet[((b0 & 0x03) << 4) | (b1 >> 4)]
                count += 2
                if index + 1 < bytes.count {
                    out[count] = alphabet[((b1 & 0x0F) << 2) | (b2 >> 6)]
                    count += 1
                }
                if index + 2 < bytes.count {
                    out[count] = alphabet[b2 & 0x3F]
                    count += 1
                }
                index += 3
            }
            return count
        }
    }
}

/// Lower-case hex of `bytes`.
public func hex(_ bytes: some Sequence<UInt8>) -> String {
    if let text = bytes.withContiguousStorageIfAvailable({ hex(UnsafeRawBufferPointer($0)) }) { return text }
    return Array(bytes).withUnsafeBytes { hex($0) }
}

/// The same, written straight into the string's storage (an audit record hashes to one of
/// these, 440,000 of them in a first apply).
public func hex(_ bytes: UnsafeRawBufferPointer) -> String {
    String(unsafeUninitializedCapacity: bytes.count * 2) { out in
        for (index, byte) in bytes.enumerated() {
            out[2 * index] = hexDigit(byte >> 4)
            out[2 * index + 1] = hexDigit(byte & 0x0F)
        }
        return bytes.count * 2
    }
}

@inline(__always)
private func hexDigit(_ value: UInt8) -> UInt8 {
    value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") - 10 + value
}

// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "roster",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "roster", targets: ["roster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        // libyaml from the system (Debian: libyaml-dev), read through its event API.
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]
        ),
        // Model values, diagnostics and validation rules: Foundation only, no I/O.
        .target(name: "RosterCore"),
        // Files → Core values: the libyaml loader with positions, roster.yaml, documents.
        .target(name: "RosterManifest", dependencies: ["CYAML", "RosterCore"]),
        // The stored directory: the StateStore protocol, migrations, SQLite, PostgreSQL, audit, outbox.
        .target(
            name: "RosterStore",
            dependencies: [
                "RosterCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, which GRDB is built on: bulk statements bind through it directly.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Invitation delivery channels (file, webhook, sendmail) behind Core's DeliveryChannel.
        .target(
            name: "RosterDelivery",
            dependencies: [
                "RosterCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The use cases the CLI (and a server) share: locating stores, loading projects,
        // apply, delivery, invitations; typed errors. Never prints.
        .target(
            name: "RosterApp",
            dependencies: [
                "RosterCore", "RosterManifest", "RosterStore", "RosterDelivery",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // `roster serve`: the Hummingbird application (router, middleware, handlers over RosterApp)
        // and the in-memory view its answers come from.
        .target(
            name: "RosterServer",
            dependencies: [
                "RosterCore", "RosterStore", "RosterApp",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Commands, renderers and exit codes: parse → call RosterApp → render.
        .target(
            name: "RosterCLI",
            dependencies: [
                "RosterCore", "RosterManifest", "RosterStore", "RosterDelivery", "RosterApp", "RosterServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "roster", dependencies: ["RosterCLI"]),
        .testTarget(name: "RosterCoreTests", dependencies: ["RosterCore"]),
        .testTarget(name: "RosterManifestTests", dependencies: ["RosterManifest", "RosterCore"]),
        // Which store the contract tests run against (ROSTER_TEST_STORE), shared by the test targets.
        .target(name: "RosterTestSupport", dependencies: ["RosterStore", "RosterCore"], path: "Tests/RosterTestSupport"),
        .testTarget(name: "RosterStoreTests", dependencies: ["RosterStore", "RosterCore", "RosterTestSupport"]),
        // Golden files and fixtures live beside the tests and are read through #filePath, so
        // ROSTER_RECORD=1 can rewrite them in place.
        .testTarget(
            name: "RosterCLITests",
            dependencies: ["RosterCLI", "RosterApp", "RosterDelivery", "RosterManifest", "RosterCore", "RosterStore",
                           "RosterTestSupport", "RosterServer",
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "HTTPTypes", package: "swift-http-types")],
            exclude: ["Golden", "Fixtures"]
        ),
    ]
)

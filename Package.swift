// swift-tools-version:6.1
import PackageDescription

// Every target opts in to the same upcoming features (STYLE.md): explicit `any`, and imports that must name the
// module a member comes from.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "senstat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "senstat-server", targets: ["senstat-server"]),
        .executable(name: "senstat", targets: ["senstat"]),
    ],
    dependencies: [
        // Versions are the ones this machine mirrors (see ../shared/GOTCHAS.md); `from:` must name one of them.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // The web app: templates, and sessions on our own PostgreSQL persist driver.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // Sign-in with OpenID Connect: id_token signatures and JWKs (jwt-kit 5.8 asks for swift-crypto 4).
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
    ],
    targets: [
        // Domain: types, validation, statistics, disclosure control. Pure Swift, no I/O.
        .target(
            name: "SENCore",
            swiftSettings: swiftSettings
        ),
        // The REST API's request and response types and its JSON dialect, shared by the server and the CLI: no
        // Hummingbird, no PostgresNIO.
        .target(
            name: "SENAPI",
            dependencies: ["SENCore"],
            swiftSettings: swiftSettings
        ),
        // libpq, only for what it does exactly as psql does: parsing connection strings and PG* defaults.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // The numbered SQL migrations in SQL/, bundled so the server carries its own schema.
        .target(
            name: "SENSchema",
            path: "SQL",
            exclude: ["README.md", "reference"],
            resources: [.copy("migrations")],
            swiftSettings: swiftSettings
        ),
        // PostgreSQL: connection configuration, the embedded cluster, migrations, tenant transactions, repositories.
        .target(
            name: "SENStore",
            dependencies: [
                "SENCore",
                "SENSchema",
                "CLibPQ",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP: the Hummingbird application, routes, problem+json errors, the OpenAPI document.
        .target(
            name: "SENHTTP",
            dependencies: [
                "SENCore",
                "SENAPI",
                "SENStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            // The API's contract, and the web app's templates and assets (served by the server itself: no CDN).
            resources: [.copy("Resources/openapi.yaml"), .copy("Resources/templates"), .copy("Resources/assets")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "senstat-server",
            dependencies: [
                "SENCore",
                "SENStore",
                "SENHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The CLI talks to the REST API only: it links neither the server nor the database driver.
        .executableTarget(
            name: "senstat",
            dependencies: [
                "SENCore",
                "SENAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // `senstat login --web`: a loopback listener for the browser's redirect, and SHA-256 for PKCE.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Real PostgreSQL for tests: the embedded cluster (or SENSTAT_TEST_DATABASE_URL) and a database per suite.
        .target(
            name: "SENTestSupport",
            dependencies: [
                "SENStore",
                "SENAPI",
                "SENHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/SENTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SENCoreTests",
            // SENTestSupport for its script runner only: the disclosure audit and the statistics references are python
            // scripts (scipy).
            dependencies: ["SENCore", "SENAPI", "SENTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SENStoreTests",
            dependencies: [
                "SENCore", "SENStore", "SENTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SENHTTPTests",
            dependencies: [
                .product(name: "JWTKit", package: "jwt-kit"),
                "SENCore", "SENAPI", "SENStore", "SENHTTP", "SENTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                // The comparison table's rows are held to what the template's row rendered.
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Runs the built executables as a user would: they are dependencies only so that they are built first.
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["senstat-server", "senstat", "SENAPI", "SENTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)

// swift-tools-version:6.2
import PackageDescription

// The framework's ceiling for bench/api.py: a bare Hummingbird 2 server with one hello route, built and measured in
// the same run as Switchboard. Its own package so that it carries nothing of Switchboard's.
let package = Package(
    name: "Hello",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
    ],
    targets: [
        .executableTarget(name: "hello", dependencies: [.product(name: "Hummingbird", package: "hummingbird")], path: "Sources/Hello"),
    ]
)

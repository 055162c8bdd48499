/// The HTTP contract as written: `openapi.yaml`, from which the server's types and routes are generated, and which
/// the `EmbedContract` plugin compiles into this module so the binary needs no file beside it.
public enum Contract {
    public static func yaml() -> String { embeddedYAML }
}

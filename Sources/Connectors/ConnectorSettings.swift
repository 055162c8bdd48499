/// Where the connectors reach Google (overridable so that tests point them at fakes), and the BigQuery limits.
public struct ConnectorSettings: Sendable {
    public var googleTokenURL = "https://oauth2.googleapis.com/token"
    public var analyticsDataURL = "https://analyticsdata.googleapis.com"
    public var analyticsAdminURL = "https://analyticsadmin.googleapis.com"
    public var bigQueryURL = "https://bigquery.googleapis.com"
    /// The app flag that switches the GA4 tools to their demo data (`GA4Mock`); nil: always live.
    public var googleMockFlag: String? = "google_mock"
    /// A query that would scan more is refused; the real job also carries it as `maximumBytesBilled`.
    public var bigQueryMaxBytes: Int64 = 100 * 1024 * 1024
    /// Rows a query result shows the model at most.
    public var bigQueryMaxRows = 200
    /// API-key checks (`POST /integrations/{id}/validate`) list the models of the key's provider here.
    public var openAIURL = "https://api.openai.com/v1"
    public var anthropicURL = "https://api.anthropic.com"
    public var geminiURL = "https://generativelanguage.googleapis.com"

    public init() {}
}

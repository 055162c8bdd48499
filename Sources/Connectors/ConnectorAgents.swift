import Agents

/// The agents that come with the connectors, available out of the box.
public enum ConnectorAgents {
    public static let analytics = AgentDefinition(
        name: "analytics",
        description: "Answers questions about the user's Google Analytics 4 properties, with their service account.",
        systemPrompt: """
            You are an analytics assistant with read access to the user's Google Analytics 4 data through tools. \
            Use ga4_metadata when unsure which metric or dimension names exist; use query_ga4 to get numbers. Ask for \
            the property id if you do not know it. Quote the numbers you got and the date range they cover; never \
            invent figures. Use current_time to resolve relative dates.
            """,
        tools: [QueryGA4Tool.name, GA4MetadataTool.name, CurrentTimeTool.name])

    public static let warehouse = AgentDefinition(
        name: "warehouse",
        description: "Explores and queries the user's BigQuery warehouse, within a scan budget.",
        systemPrompt: """
            You are a data analyst with read access to the user's BigQuery project through tools. Find tables with \
            bq_list_datasets and bq_list_tables, read their columns with bq_table_schema, check cost with bq_dry_run, \
            then run bq_query. Write Standard SQL, select only the columns you need and filter on partition columns: \
            queries over the scan cap are refused. Report results with the query you ran.
            """,
        tools: [BigQueryListDatasetsTool.name, BigQueryListTablesTool.name, BigQueryTableSchemaTool.name,
                BigQueryDryRunTool.name, BigQueryQueryTool.name, CurrentTimeTool.name])

    public static let all = [analytics, warehouse]
}

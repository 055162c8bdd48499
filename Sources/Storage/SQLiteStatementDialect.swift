import SQLKit
import SQLiteKit

/// SQLiteKit's dialect with its bind placeholders (`?1`, `?2`...) made once: SQLKit asks the dialect for one at every
/// bind of every statement, and SQLiteKit writes each with a string interpolation (about 300 instructions a bind,
/// 28 k a chat turn). Everything else is SQLiteKit's, so the statements' text is what it was.
struct SQLiteStatementDialect: SQLDialect {
    private static let base = SQLiteDialect()
    /// Statements here bind a few dozen values at most; a longer list's placeholders are SQLiteKit's own.
    private static let placeholders: [any SQLExpression] = (0...128).map { base.bindPlaceholder(at: $0) }

    func bindPlaceholder(at position: Int) -> any SQLExpression {
        Self.placeholders.indices.contains(position) ? Self.placeholders[position] : Self.base.bindPlaceholder(at: position)
    }

    var name: String { Self.base.name }
    var identifierQuote: any SQLExpression { Self.base.identifierQuote }
    var literalStringQuote: any SQLExpression { Self.base.literalStringQuote }
    var supportsAutoIncrement: Bool { Self.base.supportsAutoIncrement }
    var autoIncrementClause: any SQLExpression { Self.base.autoIncrementClause }
    var autoIncrementFunction: (any SQLExpression)? { Self.base.autoIncrementFunction }
    func literalBoolean(_ value: Bool) -> any SQLExpression { Self.base.literalBoolean(value) }
    var literalDefault: any SQLExpression { Self.base.literalDefault }
    var supportsIfExists: Bool { Self.base.supportsIfExists }
    var enumSyntax: SQLEnumSyntax { Self.base.enumSyntax }
    var supportsDropBehavior: Bool { Self.base.supportsDropBehavior }
    var supportsReturning: Bool { Self.base.supportsReturning }
    var triggerSyntax: SQLTriggerSyntax { Self.base.triggerSyntax }
    var alterTableSyntax: SQLAlterTableSyntax { Self.base.alterTableSyntax }
    func customDataType(for dataType: SQLDataType) -> (any SQLExpression)? { Self.base.customDataType(for: dataType) }
    func normalizeSQLConstraint(identifier: any SQLExpression) -> any SQLExpression { Self.base.normalizeSQLConstraint(identifier: identifier) }
    var upsertSyntax: SQLUpsertSyntax { Self.base.upsertSyntax }
    var unionFeatures: SQLUnionFeatures { Self.base.unionFeatures }
    var sharedSelectLockExpression: (any SQLExpression)? { Self.base.sharedSelectLockExpression }
    var exclusiveSelectLockExpression: (any SQLExpression)? { Self.base.exclusiveSelectLockExpression }
    func nestedSubpathExpression(in column: any SQLExpression, for path: [String]) -> (any SQLExpression)? {
        Self.base.nestedSubpathExpression(in: column, for: path)
    }
}

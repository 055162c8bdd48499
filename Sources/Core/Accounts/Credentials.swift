import Foundation

/// Rules for what users type: email addresses, passwords and names.
enum Credentials {
    static let passwordLength = 8...1024
    static let maxNameLength = 200

    /// Trimmed and lowercased; nil when it is not an address.
    static func normalizedEmail(_ raw: String) -> String? {
        // Counted as the contract's maxLength counts: Unicode scalars, as sent (before trimming and lowercasing).
        guard raw.unicodeScalars.count <= 254 else { return nil }
        let email = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !email.contains(where: { $0.isWhitespace }), !email.containsControlCharacters
        else { return nil }
        return email
    }

    static func emailError(_ raw: String, field: String = "email") -> FieldError? {
        normalizedEmail(raw) == nil ? FieldError(field: field, code: "invalid_email", message: "not a valid email address") : nil
    }

    static func passwordError(_ password: String, field: String = "password") -> FieldError? {
        // Counted as the contract's minLength and maxLength count: Unicode scalars.
        passwordLength.contains(password.unicodeScalars.count) ? nil
            : FieldError(field: field, code: "invalid_length",
                         message: "must be \(passwordLength.lowerBound) to \(passwordLength.upperBound) characters")
    }

    /// Trimmed; empty becomes nil.
    static func normalizedName(_ raw: String?) throws -> String? {
        // Counted as the contract's maxLength counts (Unicode scalars, before trimming): combining marks make a
        // character of many scalars.
        guard (raw?.unicodeScalars.count ?? 0) <= maxNameLength else {
            throw AppError.validation([FieldError(field: "name", code: "too_long", message: "at most \(maxNameLength) characters")])
        }
        guard let name = raw?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty else { return nil }
        guard !name.containsControlCharacters else {
            throw AppError.validation([FieldError(field: "name", code: "invalid_character", message: "must not contain control characters")])
        }
        return name
    }
}

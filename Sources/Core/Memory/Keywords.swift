/// The keyword side of hybrid search: the words of a query that say something (three letters or more, not one of
/// the commonest English words, which every text shares: "for" would otherwise lift every memory holding it above
/// the one that means the query), and how many of them a text holds as whole words or with a short ending
/// ("leg" meets "legs", "squat" meets "squats"; "for" does not meet "before").
enum Keywords {
    static let stopwords: Set<String> = [
        "about", "after", "again", "all", "also", "and", "any", "are", "because", "been", "before", "being", "both", "but",
        "can", "could", "did", "does", "doing", "each", "few", "for", "from", "had", "has", "have", "her", "here", "him",
        "his", "how", "into", "its", "just", "more", "most", "not", "now", "only", "other", "our", "out", "over", "own",
        "same", "she", "should", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
        "this", "those", "too", "under", "until", "very", "was", "were", "what", "when", "where", "which", "while", "who",
        "why", "will", "with", "would", "you", "your",
    ]

    static func words(_ text: String) -> [Substring] {
        text.split { !$0.isLetter && !$0.isNumber }
    }

    static func of(_ query: String) -> Set<String> {
        Set(words(query.folded).map(String.init).filter { $0.count > 2 && !stopwords.contains($0) })
    }

    /// How many of `keywords` the (folded) text holds.
    static func matches(_ keywords: Set<String>, in folded: String) -> Int {
        let present = words(folded)
        return keywords.filter { keyword in
            present.contains { $0 == keyword || ($0.hasPrefix(keyword) && $0.count - keyword.count <= 2) }
        }.count
    }
}

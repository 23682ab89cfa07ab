extension SENReturn {
    /// `json.jsonText` (the stored payload, keys sorted), written straight from the fields: building the nested
    /// dictionaries of `json` to sort and write them was a sixth of an import's server CPU time, hashing every
    /// key's components (Docs/performance.md). The catalogue's keys are laid out once in the order the nested,
    /// sorted objects are written (`PayloadLayout`); a return's own fields are written in that order, opening and
    /// closing objects where the path changes, so an object appears exactly when one of its fields is present, as
    /// in `json`. A field outside the catalogue falls back to `json`. `PayloadJSONTests` holds the two equal.
    public var jsonText: String { jsonText(layout: .shared) }

    func jsonText(layout: PayloadLayout) -> String {
        guard layout.nestsCleanly else { return json.jsonText }
        // The return's own fields in the layout's order: a return gives a few of the catalogue's fields, and
        // looking up every leaf in it hashed each of the catalogue's keys for every row.
        var present: [(leaf: Int, value: FieldValue)] = []
        present.reserveCapacity(fields.count)
        for (key, value) in fields {
            guard let leaf = layout.position[key] else { return json.jsonText }
            present.append((leaf, value))
        }
        present.sort { $0.leaf < $1.leaf }
        var out = JSONOutput(capacity: 64 + fields.count * 40)
        var open: [String] = []  // the path of the objects open below the top one
        out.object { o in
            for (index, value) in present {
                let leaf = layout.leaves[index]
                let parents = leaf.path.count - 1
                var common = 0
                while common < min(open.count, parents) && open[common] == leaf.path[common] { common += 1 }
                while open.count > common {
                    o.close()
                    open.removeLast()
                }
                while open.count < parents {
                    o.key(dynamic: leaf.path[open.count])
                    o.open()
                    open.append(leaf.path[open.count])
                }
                o.key(dynamic: leaf.path[parents])
                value.json.write(&o)
            }
            while !open.isEmpty {
                o.close()
                open.removeLast()
            }
        }
        return out.text
    }
}

/// The catalogue's fields in the order `JSONValue.write` writes a return's nested objects: by their dotted paths'
/// components, each level sorted as `keys.sorted()` sorts it.
struct PayloadLayout: Sendable {
    struct Leaf: Sendable {
        let key: String
        let path: [String]
    }

    let leaves: [Leaf]
    /// Each key's place in `leaves`.
    let position: [String: Int]
    /// False when a key is also another's parent (`a` and `a.b`): `json` keeps the value, and a walk would write
    /// `a` twice. The catalogue has none.
    let nestsCleanly: Bool

    static let shared = PayloadLayout(keys: ReturnField.all.map(\.key))

    init(keys: [String]) {
        let leaves = keys.map { Leaf(key: $0, path: $0.split(separator: ".").map(String.init)) }
            .sorted { $0.path.lexicographicallyPrecedes($1.path) }
        self.leaves = leaves
        self.position = Dictionary(leaves.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { first, _ in first })
        // Sorted, a parent comes just before its first descendant.
        self.nestsCleanly = zip(leaves, leaves.dropFirst()).allSatisfy { parent, next in !next.path.starts(with: parent.path) }
    }
}

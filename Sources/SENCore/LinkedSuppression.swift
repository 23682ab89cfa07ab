/// Disclosure control decided jointly for every table one release can produce (Docs/privacy.md).
///
/// A release's tables are linked: every one-way table (region, phase, trust size) adds up to the same total, and
/// the LA table adds up, region by region, to the region table. Suppressing each table alone lets a researcher
/// subtract one table from another (a hidden region = total − shown regions − the LAs of its complement). Here
/// the tables of one family are controlled together:
///
/// 1. **Primary suppression, per value.** A cell is shown only if it has at least 10 units, 3 schools and 2
///    trusts, and every value in it (each count it holds) is 0 or at least 10. Otherwise the whole cell is
///    hidden, so no relation inside a cell (support + plans ≤ roll; answers ≤ respondents) ties a hidden value to
///    shown ones.
/// 2. **Protection.** For every value hidden by rule 1, the interval of values consistent with everything the
///    family publishes — every shown count (taken as known exactly, though it is published rounded), every
///    hidden one only to be 0 or more, and every sum that links the tables — must reach `protection(x)` above
///    it, and below it to `max(0, x − protection(x))`. Values hidden as complements only need not be
///    determined exactly.
/// 3. **Complements.** While a hidden value lacks protection, more is hidden: the shown cell — or else the
///    shown region with one of its LAs — that restores every protection with the fewest units or, failing any,
///    the one that brings the family's total shortfall down the most; if none helps, the total. The result is deterministic: the same frozen release
///    always gives the same pattern.
/// 4. **Rounding.** Shown counts are rounded to the nearest 5.
///
/// The intervals are computed by bounds propagation over the sums, column by column. The sums of one family form
/// a tree (the total, its one-way tables, and each region's LAs under it), and on a tree propagation to a fixed
/// point gives each value's exact range. Taking shown counts as exact makes these ranges no wider than a reader's
/// (whose counts are rounded); the tests check every hidden value against a linear programme over all the
/// family's tables, with rounding and the relations inside cells, solved by scipy's HiGHS.
public enum LinkedSuppression {
    public typealias Cell = DisclosureControl.Cell
    public typealias Controlled = DisclosureControl.Controlled

    /// One table of a family: its cells, and (for a table nested in another, the LAs in regions) which table its
    /// cells' `parent` keys name. A table without `parentTable` adds up to the family's total.
    public struct Table: Sendable {
        public let name: String
        public let parentTable: String?
        public let cells: [Cell]

        public init(name: String, parentTable: String? = nil, cells: [Cell]) {
            self.name = name
            self.parentTable = parentTable
            self.cells = cells
        }
    }

    public struct Result: Sendable {
        public let tables: [String: [Controlled]]
        public let total: Controlled
    }

    /// How far either side of a hidden value x its range must reach: half of it, and at least 5.
    public static func protection(_ x: Int) -> Int { max(5, (x + 1) / 2) }

    /// Whether a cell may be shown on its own (rule 1).
    public static func passes(_ cell: Cell, _ rules: DisclosureControl.Rules) -> Bool {
        DisclosureControl.passes(cell, rules) && cell.values.values.allSatisfy { $0 == 0 || $0 >= rules.minimumUnits }
    }

    public static func control(tables: [Table], total: Cell, rules: DisclosureControl.Rules = .init()) -> Result {
        var family = Family(tables: tables, total: total, rules: rules)
        family.suppress()
        return family.result()
    }

    /// The range of every value of every hidden cell, as someone who sees only the published tables can bound it
    /// (for tests and audits): [table: [key: [column: (lo, hi)]]], "total" for the total.
    public static func ranges(tables: [Table], total: Cell, rules: DisclosureControl.Rules = .init()) -> [String: [String: [String: (lo: Double, hi: Double)]]] {
        var family = Family(tables: tables, total: total, rules: rules)
        family.suppress()
        var out: [String: [String: [String: (lo: Double, hi: Double)]]] = [:]
        for column in family.columns.indices {
            let (lo, hi) = family.propagate(column: column)
            for entry in family.entries.indices where family.hidden[entry] != nil {
                let e = family.entries[entry]
                out[e.table, default: [:]][e.cell.key, default: [:]][family.columns[column]] = (lo[entry], hi[entry])
            }
        }
        return out
    }

    struct Entry {
        let table: String
        let cell: Cell
    }

    struct Group {
        let margin: Int
        let members: [Int]
    }

    struct Family {
        let rules: DisclosureControl.Rules
        /// Entry 0 is the total; then every table's cells in order.
        var entries: [Entry] = []
        var groups: [Group] = []
        /// Columns: "units" then every value name.
        let columns: [String]
        var hidden: [DisclosureControl.Suppression?]
        /// For each entry, the groups it is in (as margin or member).
        var groupsOf: [[Int]]
        /// `valueTable[column][entry]`: every count read once, since the search below reads them for every
        /// candidate complement (a dictionary lookup by name each time was most of a release's first answer).
        var valueTable: [[Int]] = []
        /// `groups` flattened for `propagate`: group g's margin, and its members at
        /// `groupMembers[groupBounds[g]..<groupBounds[g + 1]]`.
        var groupMargins: [Int] = []
        var groupBounds: [Int] = [0]
        var groupMembers: [Int] = []

        init(tables: [Table], total: Cell, rules: DisclosureControl.Rules) {
            self.rules = rules
            entries.append(Entry(table: "total", cell: total))
            var index: [String: [String: Int]] = [:]
            for table in tables {
                for cell in table.cells {
                    index[table.name, default: [:]][cell.key] = entries.count
                    entries.append(Entry(table: table.name, cell: cell))
                }
            }
            let cells = entries.map(\.cell)
            for table in tables {
                let members = table.cells.compactMap { index[table.name]?[$0.key] }
                if let parent = table.parentTable {
                    let byParent = Dictionary(grouping: members, by: { cells[$0].parent ?? "" })
                    for (key, children) in byParent.sorted(by: { $0.key < $1.key }) {
                        // A child whose parent is not in the parent table adds up to nothing published.
                        guard let margin = index[parent]?[key] else { continue }
                        groups.append(Group(margin: margin, members: children))
                    }
                } else {
                    groups.append(Group(margin: 0, members: members))
                }
            }
            columns = ["units"] + Set(cells.flatMap { $0.values.keys }).sorted()
            hidden = entries.map { LinkedSuppression.passes($0.cell, rules) ? nil : .primary }
            groupsOf = Array(repeating: [], count: entries.count)
            for (g, group) in groups.enumerated() {
                groupsOf[group.margin].append(g)
                for m in group.members { groupsOf[m].append(g) }
            }
            for group in groups {
                groupMargins.append(group.margin)
                groupMembers += group.members
                groupBounds.append(groupMembers.count)
            }
            let columns = columns
            valueTable = columns.indices.map { column in
                entries.map { column == 0 ? $0.cell.units : $0.cell.values[columns[column], default: 0] }
            }
        }

        func value(_ entry: Int, _ column: Int) -> Int { valueTable[column][entry] }

        /// `extra` as a mask over the entries.
        func mask(_ extra: Set<Int>) -> [Bool] {
            var mask = [Bool](repeating: false, count: entries.count)
            for entry in extra { mask[entry] = true }
            return mask
        }

        /// Every value's range given what is shown, by bounds propagation to a fixed point.
        func propagate(column: Int, hiding extra: Set<Int> = []) -> (lo: [Double], hi: [Double]) {
            propagate(column: column, hiding: mask(extra))
        }

        func propagate(column: Int, hiding extra: [Bool]) -> (lo: [Double], hi: [Double]) {
            var lo = [Double](repeating: 0, count: entries.count)
            var hi = [Double](repeating: .infinity, count: entries.count)
            // A shown count is taken as known exactly, though it is published rounded: the ranges found are then
            // never wider than what a reader of the rounded tables can work out, whatever relations inside a
            // cell (support + plans against the roll) and the rounding of each count would add.
            let values = valueTable[column]
            for entry in entries.indices where hidden[entry] == nil && !extra[entry] {
                let shown = Double(values[entry])
                (lo[entry], hi[entry]) = (shown, shown)
            }
            // The search below calls this for every candidate, column and pass: it reads the groups from flat
            // arrays through pointers, in the same order and with the same arithmetic as a plain loop over
            // `groups` would.
            lo.withUnsafeMutableBufferPointer { lo in
                hi.withUnsafeMutableBufferPointer { hi in
                    groupMargins.withUnsafeBufferPointer { margins in
                        groupBounds.withUnsafeBufferPointer { bounds in
                            groupMembers.withUnsafeBufferPointer { members in
                                for _ in 0..<(4 * margins.count + 8) {
                                    var changed = false
                                    for g in 0..<margins.count {
                                        let margin = margins[g]
                                        let range = bounds[g]..<bounds[g + 1]
                                        var sumLo = 0.0
                                        var unbounded = 0
                                        var finiteHi = 0.0
                                        for i in range {
                                            let m = members[i]
                                            sumLo += lo[m]
                                            if hi[m] == .infinity { unbounded += 1 } else { finiteHi += hi[m] }
                                        }
                                        let marginUpper = unbounded > 0 ? Double.infinity : finiteHi
                                        if sumLo > lo[margin] + 1e-9 { lo[margin] = sumLo; changed = true }
                                        if marginUpper < hi[margin] - 1e-9 { hi[margin] = marginUpper; changed = true }
                                        for i in range {
                                            let m = members[i]
                                            let othersLo = sumLo - lo[m]
                                            // The others' upper sum without m: infinite if any other is unbounded.
                                            let othersHi =
                                                hi[m] == .infinity
                                                ? (unbounded > 1 ? .infinity : finiteHi) : (unbounded > 0 ? .infinity : finiteHi - hi[m])
                                            let lower = lo[margin] - othersHi
                                            let upper = hi[margin] - othersLo
                                            if lower > lo[m] + 1e-9 { lo[m] = lower; changed = true }
                                            if upper < hi[m] - 1e-9 { hi[m] = upper; changed = true }
                                        }
                                    }
                                    if !changed { break }
                                }
                            }
                        }
                    }
                }
            }
            return (lo, hi)
        }

        /// What the hidden values lack, summed over every column: for a primary value, how far its range falls
        /// short of its protection on either side; for a complement, 1 if it is determined exactly. With `extra`,
        /// as if that cell were hidden too.
        ///
        /// `enough`: stop once the sum reaches it (the search only asks whether a candidate does better than the
        /// best so far; the sum only grows, so the columns left could not change the answer).
        func shortfall(hiding extra: Set<Int> = [], enough: Double = .infinity) -> (total: Double, first: Int?) {
            var sum = 0.0
            var first: Int?
            let extra = mask(extra)
            for column in columns.indices {
                if sum >= enough { break }
                let (lo, hi) = propagate(column: column, hiding: extra)
                for entry in entries.indices {
                    let reason = extra[entry] ? .complementary : hidden[entry]
                    var lacking = 0.0
                    switch reason {
                    case .primary?:
                        let x = Double(value(entry, column))
                        let p = Double(LinkedSuppression.protection(value(entry, column)))
                        lacking = max(0, x + p - hi[entry]) + max(0, lo[entry] - max(0, x - p))
                    case .complementary?:
                        lacking = hi[entry] - lo[entry] < 1 ? 1 : 0
                    case nil:
                        continue
                    }
                    if lacking > 1e-9 {
                        sum += lacking
                        if first == nil { first = entry }
                    }
                }
            }
            return (sum, first)
        }

        mutating func suppress() {
            var guardrail = entries.count + 1
            while guardrail > 0 {
                guardrail -= 1
                let (before, first) = shortfall()
                guard first != nil else { return }
                // Candidates: every shown cell other than the total, fewest units first. Protecting a value can
                // take a cell far from it (a hidden region's range is pinned by its shown LAs).
                let singles = entries.indices.dropFirst().filter { hidden[$0] == nil }
                    .sorted { (entries[$0].cell.units, $0) < (entries[$1].cell.units, $1) }.map { Set([$0]) }
                // And pairs of a shown region with one of its shown LAs: hiding either alone leaves the region
                // pinned (by its LAs, or by itself).
                var pairs: [(units: Int, margin: Int, member: Int)] = []
                for group in groups where group.margin != 0 && hidden[group.margin] == nil {
                    for member in group.members where hidden[member] == nil {
                        pairs.append((entries[group.margin].cell.units + entries[member].cell.units, group.margin, member))
                    }
                }
                pairs.sort { ($0.units, $0.margin, $0.member) < ($1.units, $1.margin, $1.member) }
                var chosen: Set<Int>?
                var best = before
                search: for options in [singles, pairs.map { Set([$0.margin, $0.member]) }] {
                    for candidate in options {
                        // A candidate is taken if it leaves nothing lacking or less than the best so far; a sum
                        // past both is all that needs knowing of the others.
                        let after = shortfall(hiding: candidate, enough: max(best - 1e-9, 1e-9)).total
                        if after < 1e-9 {
                            chosen = candidate
                            break search
                        }
                        if after < best - 1e-9 { (best, chosen) = (after, candidate) }
                    }
                }
                if let chosen {
                    for entry in chosen { hidden[entry] = .complementary }
                } else if hidden[0] == nil {
                    // Nothing shown helps: hide the total, which bounds every table from above.
                    hidden[0] = .complementary
                } else if let largest = singles.last?.first {
                    hidden[largest] = .complementary
                } else {
                    return
                }
            }
        }

        func result() -> Result {
            func controlled(_ entry: Int) -> Controlled {
                let cell = entries[entry].cell
                if let reason = hidden[entry] {
                    return Controlled(key: cell.key, parent: cell.parent, units: nil, values: nil, suppression: reason)
                }
                return Controlled(
                    key: cell.key, parent: cell.parent, units: DisclosureControl.round(cell.units, to: rules.rounding),
                    values: cell.values.mapValues { DisclosureControl.round($0, to: rules.rounding) }, suppression: nil)
            }
            var tables: [String: [Controlled]] = [:]
            for entry in entries.indices.dropFirst() { tables[entries[entry].table, default: []].append(controlled(entry)) }
            return Result(tables: tables, total: controlled(0))
        }
    }
}

import SENAPI
import SENCore
import Hummingbird
import NIOCore

extension JSONOutput {
    var response: Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension Comparison {
    /// The comparison as `JSONEncoder.api` would write it, without building its tree (members in sorted order).
    var json: JSONOutput {
        var out = JSONOutput(capacity: 1024 + (schools.count + specialistSchools.count) * 1280)
        out.object { o in
            o.key("level"); o.string(level)
            o.key("measure"); o.string(measure)
            o.key("missing")
            o.array(missing) { o, m in o.object { o in o.key("name"); o.string(m.name); o.key("urn"); o.number(m.urn) } }
            o.key("not_compared")
            o.array(notCompared) { o, school in school.write(&o) }
            if let overdispersion { o.key("overdispersion"); overdispersion.write(&o) }
            o.key("pooled")
            o.object { o in for (k, v) in pooled.sorted(by: { $0.key < $1.key }) { o.key(dynamic: k); o.number(v) } }
            if let pooledChange { o.key("pooled_change"); pooledChange.write(&o) }
            if let pooledTrendTest { o.key("pooled_trend_test"); pooledTrendTest.write(&o) }
            o.key("schools")
            o.array(schools) { o, row in row.write(&o) }
            o.key("source"); o.string(source)
            if let specialistOverdispersion { o.key("specialist_overdispersion"); specialistOverdispersion.write(&o) }
            o.key("specialist_schools")
            o.array(specialistSchools) { o, row in row.write(&o) }
            if let standardised { o.key("standardised"); standardised.write(&o) }
            o.key("term"); o.string(term)
            o.key("trust_id"); o.string(trustID)
        }
        return out
    }
}

extension Overdispersion {
    func write(_ o: inout JSONOutput) {
        o.object { o in
            if let chiSquare { o.key("chi_square"); o.number(chiSquare) }
            o.key("degrees_of_freedom"); o.number(degreesOfFreedom)
            o.key("method"); o.string(method)
            if let note { o.key("note"); o.string(note) }
            o.key("overdispersed"); o.bool(overdispersed)
            if let pValue { o.key("p_value"); o.number(pValue) }
            if let phi { o.key("phi"); o.number(phi) }
            o.key("schools"); o.number(schools)
            if let tau2 { o.key("tau2"); o.number(tau2) }
        }
    }
}

extension NotCompared {
    func write(_ o: inout JSONOutput) {
        o.object { o in
            o.key("count"); o.number(count)
            o.key("name"); o.string(name)
            o.key("phase"); o.string(phase)
            o.key("pupils_on_roll"); o.number(pupilsOnRoll)
            o.key("rate"); o.number(rate)
            o.key("reason"); o.string(reason)
            o.key("setting"); o.string(setting)
            o.key("urn"); o.number(urn)
        }
    }
}

extension RatioBody {
    func write(_ o: inout JSONOutput) {
        o.object { o in
            o.key("expected"); o.number(expected)
            o.key("flag"); o.string(flag)
            o.key("limits_95"); limits95.write(&o)
            o.key("limits_99_8"); limits998.write(&o)
            o.key("method"); o.string(method)
            o.key("observed"); o.number(observed)
            o.key("ratio"); o.number(ratio)
        }
    }
}

extension StandardisedBody {
    func write(_ o: inout JSONOutput) {
        o.object { o in
            o.key("expected"); o.number(expected)
            o.key("interval_95"); interval95.write(&o)
            o.key("interval_99_8"); interval998.write(&o)
            o.key("method"); o.string(method)
            o.key("observed"); o.number(observed)
            o.key("ratio"); o.number(ratio)
            o.key("schools"); o.number(schools)
            o.key("verdict"); o.string(verdict)
        }
    }
}

extension ComparisonRow {
    func write(_ o: inout JSONOutput) {
        o.object { o in
            if let change { o.key("change"); change.write(&o) }
            o.key("comparator"); comparator.write(&o)
            o.key("count"); o.number(count)
            o.key("difference_pp"); o.number(differencePP)
            o.key("flag"); o.string(flag)
            if let flagAtRate { o.key("flag_at_rate"); o.string(flagAtRate) }
            o.key("flag_limits"); o.string(flagLimits)
            o.key("flags")
            o.object { o in for (k, v) in flags.sorted(by: { $0.key < $1.key }) { o.key(dynamic: k); o.string(v) } }
            o.key("limits_95"); limits95.write(&o)
            o.key("limits_99_8"); limits998.write(&o)
            o.key("limits_99_8_phi"); limits998Phi.write(&o)
            o.key("limits_99_8_tau2"); limits998Tau2.write(&o)
            o.key("limits_method"); o.string(limitsMethod)
            o.key("name"); o.string(name)
            o.key("phase"); o.string(phase)
            o.key("pupils_on_roll"); o.number(pupilsOnRoll)
            o.key("rate"); o.number(rate)
            o.key("ratio"); ratio.write(&o)
            o.key("setting"); o.string(setting)
            o.key("urn"); o.number(urn)
            o.key("wilson_95"); wilson95.write(&o)
            o.key("z"); o.number(z)
        }
    }
}

extension Comparator {
    func write(_ o: inout JSONOutput) {
        o.object { o in
            o.key("area"); o.string(area)
            o.key("census_year"); o.number(censusYear)
            o.key("level"); o.string(level)
            if let note { o.key("note"); o.string(note) }
            o.key("phase"); o.string(phase)
            o.key("phase_reason"); o.string(phaseReason)
            o.key("published_percent"); o.number(publishedPercent)
            o.key("rate"); o.number(rate)
            o.key("rate_basis"); o.string(rateBasis)
            if let rateRange { o.key("rate_range"); rateRange.write(&o) }
            o.key("requested_census_year"); o.number(requestedCensusYear)
            o.key("setting"); o.string(setting)
            o.key("source"); o.string(source)
        }
    }
}

extension Interval {
    func write(_ o: inout JSONOutput) {
        o.object { o in
            o.key("lower"); o.number(lower)
            o.key("upper"); o.number(upper)
        }
    }
}

extension ChangeBody {
    func write(_ o: inout JSONOutput) {
        o.object { o in
            o.key("difference_pp"); o.number(differencePP)
            o.key("from_rate"); o.number(fromRate)
            o.key("from_term"); o.string(fromTerm)
            o.key("interval_95_pp"); interval95PP.write(&o)
            o.key("method"); o.string(method)
            o.key("significant"); o.bool(significant)
        }
    }
}

extension TrendTestBody {
    func write(_ o: inout JSONOutput) {
        o.object { o in
            o.key("chi_square"); o.number(chiSquare)
            o.key("direction"); o.string(direction)
            o.key("method"); o.string(method)
            o.key("p_value"); o.number(pValue)
            o.key("terms"); o.number(terms)
        }
    }
}

extension ResearchAnswer {
    /// The answer as `JSONEncoder.api` writes it (keys sorted; `epsilon`, `sensitivity` and `epsilon_per_count`
    /// left out when nil), without building its tree: a release's first answer writes four of these, the LA table
    /// with over 150 cells, and JSONEncoder was a fifth of that request's time.
    var jsonText: String {
        var out = JSONOutput(capacity: 512 + cells.count * 200)
        out.object { o in
            o.key("cells")
            o.array(cells) { o, cell in cell.write(&o) }
            if let epsilon { o.key("epsilon"); o.number(epsilon) }
            if let epsilonPerCount { o.key("epsilon_per_count"); o.number(epsilonPerCount) }
            o.key("group_by"); o.string(groupBy)
            o.key("privacy"); o.string(privacy)
            o.key("query"); o.string(query)
            o.key("rules"); o.string(rules)
            if let sensitivity { o.key("sensitivity"); o.number(sensitivity) }
            o.key("term"); o.string(term)
            o.key("total"); total.write(&o)
            o.key("units"); o.string(units)
        }
        return out.text
    }
}

extension ResearchCell {
    func write(_ o: inout JSONOutput) {
        o.object { o in
            o.key("key"); o.string(key)
            o.key("parent")
            if let parent { o.string(parent) } else { o.null() }
            o.key("percent"); Self.write(percent, &o)
            o.key("suppressed")
            if let suppressed { o.string(suppressed) } else { o.null() }
            o.key("units"); units.write(&o)
            o.key("values"); Self.write(values, &o)
        }
    }

    /// A dictionary of shown values, its keys as JSONEncoder.api writes them: as they are (data, not names), sorted.
    static func write(_ values: [String: ShownValue], _ o: inout JSONOutput) {
        o.object { o in
            for (key, value) in values.sorted(by: { $0.key < $1.key }) {
                o.key(dynamic: key)
                value.write(&o)
            }
        }
    }
}

extension ShownValue {
    /// A whole number without a decimal point, another number as JSONEncoder writes it, or "c".
    func write(_ o: inout JSONOutput) {
        switch self {
        case .value(let v): v == v.rounded() && abs(v) < 1e15 ? o.number(Int(v)) : o.number(v)
        case .suppressed: o.string("c")
        }
    }
}

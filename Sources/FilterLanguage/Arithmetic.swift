/// `arith relop arith` with libpcap's operator precedence, found by comparing `tcpdump -O -d`
/// output for `a OP1 b OP2 c` with both parenthesisings:
///
///     |  <  &  <  << >>  <  + -  <  * /  <  unary -        (each level groups to the left)
///
/// `%` and `^` have no precedence in libpcap's grammar, so its parser always shifts them: a `%`
/// or `^` takes everything to its right that it can (`len % 3 + 2` is `len % (3 + 2)`), and binds
/// tighter than any operator to its left (`len * 3 % 2` is `len * (3 % 2)`, `-len % 2` is
/// `-(len % 2)`). The parser below is the same shift/reduce decision, made explicitly.
extension Parser {
    mutating func comparison() throws(ParseFailure) -> FilterExpression {
        let left = try arithmetic()
        guard let op = relationalOperator() else { throw fail() }
        _ = advance()
        let right = try arithmetic()
        return .comparison(op, left, right, SourceRange(left.range.start, right.range.end))
    }

    func relationalOperator() -> RelationalOperator? {
        guard case let .punctuation(p) = peek() else { return nil }
        switch p {
        case .greater: return .greater
        case .greaterOrEqual: return .greaterOrEqual
        case .equal: return .equal
        case .notEqual: return .notEqual
        case .less: return .less
        case .lessOrEqual: return .lessOrEqual
        default: return nil
        }
    }

    private enum PendingOperator {
        case negate(start: Int)
        case binary(ArithmeticBinaryOperator)

        /// libpcap's precedence level; nil for `%` and `^`, which have none.
        var precedence: Int? {
            switch self {
            case .negate: return 6
            case let .binary(op): return Self.precedence(op)
            }
        }

        static func precedence(_ op: ArithmeticBinaryOperator) -> Int? {
            switch op {
            case .or: return 1
            case .and: return 2
            case .shiftLeft, .shiftRight: return 3
            case .add, .subtract: return 4
            case .multiply, .divide: return 5
            case .modulo, .xor: return nil
            }
        }
    }

    private func binaryOperator() -> ArithmeticBinaryOperator? {
        guard case let .punctuation(p) = peek() else { return nil }
        switch p {
        case .plus: return .add
        case .minus: return .subtract
        case .star: return .multiply
        case .slash: return .divide
        case .percent: return .modulo
        case .ampersand: return .and
        case .bar: return .or
        case .caret: return .xor
        case .shiftLeft: return .shiftLeft
        case .shiftRight: return .shiftRight
        default: return nil
        }
    }

    mutating func arithmetic() throws(ParseFailure) -> ArithmeticExpression {
        var operands: [ArithmeticExpression] = []
        var operators: [PendingOperator] = []

        func reduce() {
            guard let op = operators.popLast(), let right = operands.popLast() else { return }
            switch op {
            case let .negate(start):
                operands.append(.negate(right, SourceRange(start, right.range.end)))
            case let .binary(binary):
                guard let left = operands.popLast() else { return }
                operands.append(.binary(binary, left, right, SourceRange(left.range.start, right.range.end)))
            }
        }

        while true {
            while at(.minus) {
                operators.append(.negate(start: advance().range.start))
            }
            operands.append(try arithmeticOperand())
            guard let op = binaryOperator() else { break }
            // Reduce while the operator on the stack binds at least as tightly (left grouping);
            // an operator without precedence on either side is shifted.
            while let top = operators.last, let topLevel = top.precedence,
                  let newLevel = PendingOperator.precedence(op), topLevel >= newLevel {
                reduce()
            }
            operators.append(.binary(op))
            _ = advance()
        }
        while !operators.isEmpty { reduce() }
        guard let result = operands.last, operands.count == 1 else { throw fail() }
        return result
    }

    /// A number, `len`, `proto[index]`, `proto[index : size]`, or `( arith )`.
    mutating func arithmeticOperand() throws(ParseFailure) -> ArithmeticExpression {
        let token = current
        switch token.kind {
        case let .number(value):
            _ = advance()
            return .constant(value, token.range)
        case .keyword(.length):
            _ = advance()
            return .length(token.range)
        case let .keyword(.protocolName(proto)):
            _ = advance()
            _ = try expect(.openBracket)
            let index = try nested { (p) throws(ParseFailure) in try p.arithmetic() }
            var size: UInt32 = 1
            var sizeRange: SourceRange? = nil
            if at(.colon) {
                _ = advance()
                sizeRange = current.range
                size = try number()
            }
            _ = try expect(.closeBracket)
            if let sizeRange, ![1, 2, 4].contains(size) {
                throw .committed(FilterError("data size must be 1, 2, or 4", at: sizeRange))
            }
            return .load(proto, index: index, size: size, SourceRange(token.range.start, endOfPrevious))
        case .punctuation(.openParen):
            _ = advance()
            let inner = try nested { (p) throws(ParseFailure) in try p.arithmetic() }
            _ = try expect(.closeParen)
            return inner
        default:
            throw fail()
        }
    }
}

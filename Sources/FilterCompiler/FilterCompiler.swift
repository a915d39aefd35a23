import FilterLanguage

/// Text → block graph: parse, generate, and optimize unless told not to.
public enum FilterCompiler {
    public static func compile(_ text: String, options: CompileOptions = .init()) throws(FilterError) -> FilterProgram {
        let expression = try FilterParser.parse(text)
        let program = try FilterCodeGenerator.generate(expression, options: options)
        guard options.optimize else { return program }
        let optimized: FilterProgram
        do {
            optimized = try Optimizer.optimize(program)
        } catch {
            throw FilterError(error.message, at: SourceRange(0, text.utf8.count))
        }
        if case .verdict(0) = optimized.blocks[optimized.entry].terminator {
            throw FilterError("expression rejects all packets", at: SourceRange(0, text.utf8.count))
        }
        return optimized
    }
}

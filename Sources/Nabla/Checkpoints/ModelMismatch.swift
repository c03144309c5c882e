/// A checkpoint saved from a different model than the one loading it: where the two
/// ``ModuleDescription``s first differ, and what each has there.
///
/// Thrown by ``Module/load(from:weightsOnly:allowingNonFinite:)`` when the file describes its
/// model — the tensors' shapes alone cannot tell a sigmoid network from a ReLU one. Loading with
/// `weightsOnly: true` skips the comparison and loads tensors whose names and shapes fit.
public struct ModelMismatch: Error, CustomStringConvertible, Equatable {
    /// The checkpoint's path.
    public let file: String
    /// Where the descriptions first differ: a layer's position, a setting's or tensor's path
    /// (`2`, `6.weight`, `0.stride`).
    public let place: String
    /// What the file's model has there.
    public let saved: String
    /// What the loading model has there.
    public let model: String

    /// Creates the error.
    public init(file: String, place: String, saved: String, model: String) {
        (self.file, self.place, self.saved, self.model) = (file, place, saved, model)
    }

    /// `FILE was saved from another model: at 2 it has ReLU, this model Sigmoid; …`.
    public var description: String {
        "\(file) was saved from another model: at \(place) it has \(saved), this model has \(model); "
            + "load with weightsOnly: true to load its tensors anyway"
    }
}

extension SafeTensors {
    /// The description of the model that saved the file (``ModuleDescription/metadataKey``), or
    /// nil for a file without one (saved by PyTorch, or by Nabla before descriptions); text that is
    /// not a description throws a ``DataError`` naming `path`.
    public func moduleDescription(file path: String) throws -> ModuleDescription? {
        guard let text = metadata[ModuleDescription.metadataKey] else { return nil }
        do {
            return try ModuleDescription(json: text)
        } catch {
            throw DataError(file: path, "metadata \(ModuleDescription.metadataKey) is not a model description (\(error))")
        }
    }
}

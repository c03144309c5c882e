// + − × ÷ with NumPy broadcasting. Each gradient is computed at the broadcast shape and summed
// back to its input's shape, so [3, 4] + [4] gives the bias a gradient of shape [4].

extension Tensor {
    /// Element-wise sum, broadcasting.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        let value = lhs.broadcastingZipMap(rhs, op: "+", +)
        let (lhsShape, rhsShape) = (lhs.shape, rhs.shape)
        return value.recorded(
            from: lhs, { g in g.sum(toShape: lhsShape) },
            and: rhs, { g in g.sum(toShape: rhsShape) })
    }

    /// Element-wise difference, broadcasting.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        let value = lhs.broadcastingZipMap(rhs, op: "-", -)
        let (lhsShape, rhsShape) = (lhs.shape, rhs.shape)
        return value.recorded(
            from: lhs, { g in g.sum(toShape: lhsShape) },
            and: rhs, { g in (-g).sum(toShape: rhsShape) })
    }

    /// Element-wise product, broadcasting.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
        let value = lhs.broadcastingZipMap(rhs, op: "*", *)
        let (a, b) = (lhs.detached, rhs.detached)
        return value.recorded(
            from: lhs, { g in g.broadcastingZipMap(b, op: "*", *).sum(toShape: a.shape) },
            and: rhs, { g in g.broadcastingZipMap(a, op: "*", *).sum(toShape: b.shape) })
    }

    /// Element-wise quotient, broadcasting.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor {
        let value = lhs.broadcastingZipMap(rhs, op: "/", /)
        let (a, b) = (lhs.detached, rhs.detached)
        return value.recorded(
            from: lhs, { g in g.broadcastingZipMap(b, op: "/", /).sum(toShape: a.shape) },
            and: rhs, { g in
                // ∂(a/b)/∂b = −a/b² = −value/b
                (g * value).broadcastingZipMap(b, op: "/") { gv, b in -gv / b }.sum(toShape: b.shape)
            })
    }

    /// Element-wise negation.
    public static prefix func - (x: Tensor) -> Tensor {
        x.map { -$0 }.recorded(from: x) { g in -g }
    }

    /// Adds a scalar to every element.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func + (lhs: Tensor, rhs: Scalar) -> Tensor { lhs + Tensor(rhs) }
    /// Adds a scalar to every element.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func + (lhs: Scalar, rhs: Tensor) -> Tensor { Tensor(lhs) + rhs }
    /// Subtracts a scalar from every element.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func - (lhs: Tensor, rhs: Scalar) -> Tensor { lhs - Tensor(rhs) }
    /// Subtracts every element from a scalar.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func - (lhs: Scalar, rhs: Tensor) -> Tensor { Tensor(lhs) - rhs }
    /// Multiplies every element by a scalar.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (lhs: Tensor, rhs: Scalar) -> Tensor { lhs * Tensor(rhs) }
    /// Multiplies every element by a scalar.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (lhs: Scalar, rhs: Tensor) -> Tensor { Tensor(lhs) * rhs }
    /// Divides every element by a scalar.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func / (lhs: Tensor, rhs: Scalar) -> Tensor { lhs / Tensor(rhs) }
    /// Divides a scalar by every element.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func / (lhs: Scalar, rhs: Tensor) -> Tensor { Tensor(lhs) / rhs }

    /// `lhs = lhs + rhs`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func += (lhs: inout Tensor, rhs: Tensor) { lhs = lhs + rhs }
    /// `lhs = lhs - rhs`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func -= (lhs: inout Tensor, rhs: Tensor) { lhs = lhs - rhs }
    /// `lhs = lhs * rhs`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func *= (lhs: inout Tensor, rhs: Tensor) { lhs = lhs * rhs }
    /// `lhs = lhs / rhs`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func /= (lhs: inout Tensor, rhs: Tensor) { lhs = lhs / rhs }
}

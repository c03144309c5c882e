import CNablaKernels

/// How many threads Nabla's kernels may use. Large matrix products are split across them, and a
/// convolution's images; smaller work, such as every product of the book's mini-batch of 10,
/// stays on the calling thread.
///
/// By default one per core, or `NABLA_THREADS` if set. Several models training at once, each on
/// a thread of its own, run best with 1: each then keeps to its own core, where sharing one pool
/// would put three threads' work on two cores.
public enum KernelThreads {
    /// The number of threads in use, from 1 to 8. Setting it takes effect at the next product;
    /// setting 0 restores the default.
    public static var count: Int {
        get { nabla_thread_count() }
        set { nabla_set_threads(newValue) }
    }
}

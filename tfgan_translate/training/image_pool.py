"""The history buffer of generated images (Shrivastava et al., 2017), as CycleGAN uses it.

The discriminator sees, half of the time, a fake from an earlier step instead of the
newest one, which damps oscillation. The buffer, its fill count and its random counter
are variables, so the pool lives in checkpoints and works inside ``tf.function``.

Under a distribution strategy every replica keeps its own copy of the pool (variables with
``synchronization=ON_READ``: a replica updates its local copy without talking to the others,
where a mirrored variable would refuse an assignment in replica context). The copies hold
the same images: a query gathers the fakes of all replicas (``all_gather``, in replica
order, which is the order of the global batch), runs the one pool over the whole global
batch with a counter-based random stream that every replica draws identically, and hands
each replica back its own slice. So the pool behaves exactly as on one device with the
global batch (training under MirroredStrategy matches the default strategy), and a
checkpoint, which saves the first replica's copy (``ONLY_FIRST_REPLICA``), is the whole
state. The price is one all-gather of the fakes per query, small next to the gradients'
all-reduce.
"""

import tensorflow as tf

_LOCAL = dict(
    trainable=False,
    synchronization=tf.VariableSynchronization.ON_READ,
    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
)


class ImagePool(tf.Module):
    """A pool of up to ``size`` past images of shape ``image_shape``.

    ``query(images)``, per image in order: while the pool is not full, store it and return
    it; afterwards, with probability 0.5 return a random stored image and store the new one
    in its place, else return the new image. ``size=0`` disables the pool.
    """

    def __init__(self, size, image_shape, seed=0, name=None):
        super().__init__(name=name)
        self.size = int(size)
        self.seed = int(seed)
        self.images = tf.Variable(tf.zeros([max(self.size, 1), *image_shape], tf.float32), name="images", **_LOCAL)
        self.count = tf.Variable(0, dtype=tf.int32, name="count", **_LOCAL)
        # Random draws are a function of (seed, draws so far): identical on every replica.
        self.draws = tf.Variable(0, dtype=tf.int64, name="draws", **_LOCAL)

    def query(self, images):
        if self.size == 0:
            return images
        images = tf.cast(images, tf.float32)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return self._query_global(images)
        sizes = context.all_gather(tf.shape(images)[:1], axis=0)
        outputs = self._query_global(context.all_gather(images, axis=0))
        replica = context.replica_id_in_sync_group
        start = tf.reduce_sum(sizes[:replica])
        return outputs[start:start + sizes[replica]]

    def _query_global(self, images):
        """The pool's rule over a batch, reading and writing the variables once each."""
        n = tf.shape(images)[0]
        draws = self.draws.read_value()
        seed = tf.stack([tf.constant(self.seed, tf.int64), draws])
        coins = tf.random.stateless_uniform([n], seed, 0.0, 1.0)
        slots = tf.random.stateless_uniform([n], seed + [0, 1], 0, self.size, dtype=tf.int32)
        size = self.size

        # An explicit while_loop rather than a Python loop left to AutoGraph: the rule must
        # hold in graph mode even where AutoGraph declines to convert this method (it has,
        # in a notebook kernel, leaving a symbolic `for` that TensorFlow refuses). Indexing by
        # tf.gather, not `x[i]`: XLA takes a slice's start as a compile-time constant and
        # would compile the train step again for every new slot and count (--jit-compile).
        def step(i, buffer, count, outputs):
            image = tf.gather(images, i)

            def store():
                return tf.tensor_scatter_nd_update(buffer, [[count]], image[None]), count + 1, image

            def swap():
                slot = tf.gather(slots, i)
                return tf.tensor_scatter_nd_update(buffer, [[slot]], image[None]), count, tf.gather(buffer, slot)

            def keep():
                return buffer, count, image

            buffer, count, output = tf.cond(
                count < size, store, lambda: tf.cond(tf.gather(coins, i) > 0.5, swap, keep))
            return i + 1, buffer, count, outputs.write(i, output)

        outputs = tf.TensorArray(tf.float32, size=n, element_shape=images.shape[1:])
        _, buffer, count, outputs = tf.while_loop(
            lambda i, *_: i < n, step,
            (tf.constant(0), self.images.read_value(), self.count.read_value(), outputs))
        self.images.assign(buffer)
        self.count.assign(count)
        self.draws.assign(draws + 2)
        return outputs.stack()

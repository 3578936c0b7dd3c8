import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.function.Predicate;

public class TaskScheduler {

    public enum Priority {
        LOW(1), NORMAL(5), HIGH(10), CRITICAL(20);

        private final int weight;

        Priority(int weight) {
            this.weight = weight;
        }

        public int weight() {
            return weight;
        }
    }

    public static class Task {
        private final String name;
        private final Priority priority;
        private final long submittedAt;
        private final Set<String> dependsOn = new HashSet<>();
        private int attempts;

        public Task(String name, Priority priority, long submittedAt) {
            this.name = name;
            this.priority = priority;
            this.submittedAt = submittedAt;
        }

        public Task after(String... names) {
            for (String dependency : names) {
                dependsOn.add(dependency);
            }
            return this;
        }

        public String getName() {
            return name;
        }

        public int effectivePriority(long now) {
            long waited = Math.max(0, now - submittedAt);
            return priority.weight() + (int) Math.min(waited / 1000, 10);
        }

        @Override
        public String toString() {
            return name + "[" + priority + ", attempts=" + attempts + "]";
        }
    }

    private final Map<String, Task> pending = new HashMap<>();
    private final Set<String> completed = new HashSet<>();
    private final List<String> failed = new ArrayList<>();
    private final int maxAttempts;
    private long clock;

    public TaskScheduler(int maxAttempts) {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1");
        }
        this.maxAttempts = maxAttempts;
    }

    public void advanceClock(long millis) {
        clock += millis;
    }

    public Task submit(String name, Priority priority) {
        if (pending.containsKey(name) || completed.contains(name)) {
            throw new IllegalStateException("Task already known: " + name);
        }
        Task task = new Task(name, priority, clock);
        pending.put(name, task);
        return task;
    }

    private boolean isReady(Task task) {
        for (String dependency : task.dependsOn) {
            if (!completed.contains(dependency)) {
                return false;
            }
        }
        return true;
    }

    public List<Task> readyTasks() {
        Comparator<Task> order = Comparator
                .comparingInt((Task t) -> t.effectivePriority(clock))
                .reversed()
                .thenComparingLong(t -> t.submittedAt);
        PriorityQueue<Task> queue = new PriorityQueue<>(order);
        for (Task task : pending.values()) {
            if (isReady(task)) {
                queue.add(task);
            }
        }
        List<Task> result = new ArrayList<>();
        while (!queue.isEmpty()) {
            result.add(queue.poll());
        }
        return result;
    }

    public Task next() {
        List<Task> ready = readyTasks();
        return ready.isEmpty() ? null : ready.get(0);
    }

    public void markDone(String name) {
        Task task = pending.remove(name);
        if (task == null) {
            throw new IllegalArgumentException("Not pending: " + name);
        }
        completed.add(name);
    }

    public boolean markFailed(String name) {
        Task task = pending.get(name);
        if (task == null) {
            return false;
        }
        task.attempts++;
        if (task.attempts >= maxAttempts) {
            pending.remove(name);
            failed.add(name);
            return false;
        }
        return true;
    }

    public List<String> runAll(Predicate<Task> worker) {
        List<String> order = new ArrayList<>();
        Task task = next();
        while (task != null) {
            if (worker.test(task)) {
                markDone(task.getName());
                order.add(task.getName());
            } else {
                markFailed(task.getName());
            }
            advanceClock(250);
            task = next();
        }
        return order;
    }

    public int pendingCount() {
        return pending.size();
    }

    public List<String> getFailed() {
        return new ArrayList<>(failed);
    }
}
